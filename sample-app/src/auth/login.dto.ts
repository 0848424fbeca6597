import { Transform } from 'class-transformer';
import { IsString, Matches } from 'class-validator';

export class LoginDto {
  @Transform(({ value }) => (typeof value === 'string' ? value.trim().toLowerCase() : value))
  @IsString()
  @Matches(/^[a-z0-9][a-z0-9_-]{0,31}$/, { message: 'username must be 1-32 letters, digits, "_" or "-"' })
  username!: string;
}

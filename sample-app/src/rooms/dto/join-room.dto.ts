import { IsString, Matches } from 'class-validator';

export class JoinRoomDto {
  @IsString()
  @Matches(/^[a-z0-9][a-z0-9-]{0,31}$/, { message: 'room must be a room name' })
  room!: string;
}

import { IsUUID } from 'class-validator';

export class StartTaskDto {
  /** The page UUID GET /api/page gave this page. */
  @IsUUID('4')
  pageId!: string;
}

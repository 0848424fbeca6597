import { IsUUID, Matches } from 'class-validator';

export class StartTaskDto {
  /** The page UUID GET /api/page gave this page. */
  @IsUUID('4')
  pageId!: string;

  /** The ticket GET /api/page gave with it (CsrfService.pageTicket). */
  @Matches(/^[A-Za-z0-9_-]{43}$/, { message: 'pageTicket must be the ticket GET /api/page gave' })
  pageTicket!: string;
}

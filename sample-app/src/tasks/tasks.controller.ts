import { Body, Controller, ForbiddenException, HttpCode, Post, Req, UseGuards } from '@nestjs/common';
import type { Request } from 'express';
import { CsrfGuard } from '../csrf/csrf.guard.js';
import { CsrfService } from '../csrf/csrf.service.js';
import { RateGroup, RateLimitGuard } from '../throttling.js';
import { StartTaskDto } from './start-task.dto.js';
import { TasksService } from './tasks.service.js';

@Controller('api')
@UseGuards(CsrfGuard, RateLimitGuard)
@RateGroup('tasks')
export class TasksController {
  constructor(
    private readonly tasks: TasksService,
    private readonly csrf: CsrfService,
  ) {}

  /** Starts the long task and answers at once (202); progress arrives on the page's channel. Needs no session. */
  @Post('tasks')
  @HttpCode(202)
  start(@Req() req: Request, @Body() body: StartTaskDto): { taskId: string; steps: number } {
    // Only a page this browser was given: nobody can drive another visitor's progress bar.
    if (!this.csrf.isValidPageTicket(req, body.pageId, body.pageTicket)) {
      throw new ForbiddenException('This page id was not issued to your browser; reload the page');
    }
    const { taskId, steps } = this.tasks.start(body.pageId.toLowerCase());
    return { taskId, steps };
  }
}

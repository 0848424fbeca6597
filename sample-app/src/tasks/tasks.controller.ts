import { Body, Controller, ForbiddenException, HttpCode, Post, Req, UseGuards } from '@nestjs/common';
import type { Request } from 'express';
import { CsrfGuard } from '../csrf/csrf.guard.js';
import { StartTaskDto } from './start-task.dto.js';
import { TasksService } from './tasks.service.js';

@Controller('api')
@UseGuards(CsrfGuard)
export class TasksController {
  constructor(private readonly tasks: TasksService) {}

  /** Starts the long task and answers at once (202); progress arrives on the page's channel. */
  @Post('tasks')
  @HttpCode(202)
  start(@Req() req: Request, @Body() body: StartTaskDto): { taskId: string; steps: number } {
    // Only a page this session was given: nobody can drive another visitor's progress bar.
    if (!(req.session.pages ?? []).includes(body.pageId.toLowerCase())) {
      throw new ForbiddenException('This page id was not issued to your session; reload the page');
    }
    const { taskId, steps } = this.tasks.start(body.pageId);
    return { taskId, steps };
  }
}

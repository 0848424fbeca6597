import { Module } from '@nestjs/common';
import { CsrfModule } from '../csrf/csrf.module.js';
import { PublisherModule } from '../publisher/publisher.module.js';
import { TasksController } from './tasks.controller.js';
import { TasksService } from './tasks.service.js';

/** The long task and its progress, published to the one page that started it. */
@Module({
  imports: [PublisherModule, CsrfModule],
  controllers: [TasksController],
  providers: [TasksService],
})
export class TasksModule {}

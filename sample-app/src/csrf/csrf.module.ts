import { Module } from '@nestjs/common';
import { CsrfService } from './csrf.service.js';

/**
 * CSRF tokens and page tickets (CsrfService). A module whose controllers use
 * `@UseGuards(CsrfGuard)` imports this one: Nest builds the guard in the controller's module, from
 * the CsrfService exported here.
 */
@Module({
  providers: [CsrfService],
  exports: [CsrfService],
})
export class CsrfModule {}

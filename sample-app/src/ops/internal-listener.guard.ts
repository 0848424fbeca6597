import { type CanActivate, type ExecutionContext, Inject, Injectable, NotFoundException } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { Request } from 'express';
import type { SampleConfig } from '../sample.config.js';

/**
 * Internal routes answer only on the internal listener (INTERNAL_PORT, loopback): through nginx or
 * the public port they do not exist (404), so metrics and health never reach visitors.
 */
@Injectable()
export class InternalListenerGuard implements CanActivate {
  constructor(@Inject(ConfigService) private readonly config: ConfigService) {}

  canActivate(context: ExecutionContext): boolean {
    const { internalPort } = this.config.getOrThrow<SampleConfig>('sample');
    const req = context.switchToHttp().getRequest<Request>();
    if (internalPort === undefined || req.socket.localPort !== internalPort) throw new NotFoundException();
    return true;
  }
}

import { type CanActivate, type ExecutionContext, ForbiddenException, Injectable, UnsupportedMediaTypeException } from '@nestjs/common';
import type { Request } from 'express';
import { CsrfService } from './csrf.service.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * CSRF protection for the sample's own controllers: every unsafe request must be JSON and carry
 * its browser's token (given to the page by GET /api/page) in X-CSRF-Token. A cross-site form can
 * do neither. See CsrfService for why the token needs no session.
 */
@Injectable()
export class CsrfGuard implements CanActivate {
  constructor(private readonly csrf: CsrfService) {}

  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<Request>();
    if (SAFE_METHODS.has(req.method)) return true;
    if (!req.is('application/json')) throw new UnsupportedMediaTypeException('send application/json');
    if (!this.csrf.isValid(req)) throw new ForbiddenException('missing or invalid CSRF token; reload the page');
    return true;
  }
}

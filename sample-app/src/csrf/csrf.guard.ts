import { type CanActivate, type ExecutionContext, ForbiddenException, Injectable, UnsupportedMediaTypeException } from '@nestjs/common';
import type { Request } from 'express';
import { hasValidCsrfToken } from './csrf.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Synchronizer-token CSRF protection for the sample's own controllers: every unsafe request
 * must be JSON and carry the token of its session (given to the page by GET /api/page) in
 * X-CSRF-Token. A cross-site form can do neither.
 */
@Injectable()
export class CsrfGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<Request>();
    if (SAFE_METHODS.has(req.method)) return true;
    if (!req.is('application/json')) throw new UnsupportedMediaTypeException('send application/json');
    if (!hasValidCsrfToken(req)) throw new ForbiddenException('missing or invalid CSRF token; reload the page');
    return true;
  }
}

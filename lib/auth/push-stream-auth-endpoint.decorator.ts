import { SetMetadata } from '@nestjs/common';
import { PUSH_STREAM_AUTH_ENDPOINT } from './auth.constants.js';

/**
 * Marks a route (or controller) as an answer to nginx's auth_request: ChannelAuthGuard then leaves
 * the session alone (no save, no store touch, no Set-Cookie), as the module's own endpoint does.
 * Use it with `authRoute: false` and your own route:
 *
 *   @Get('my/auth') @PushStreamAuthEndpoint() @UseGuards(ChannelAuthGuard) @HttpCode(204) auth() {}
 */
export const PushStreamAuthEndpoint = (): MethodDecorator & ClassDecorator => SetMetadata(PUSH_STREAM_AUTH_ENDPOINT, true);

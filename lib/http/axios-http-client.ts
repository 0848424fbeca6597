import { Injectable } from '@nestjs/common';
import { HttpService } from '@nestjs/axios';
import { firstValueFrom } from 'rxjs';
import { PushStreamConnectionError, PushStreamTimeoutError } from '../errors/push-stream.exception.js';
import { PushStreamHttpClient, type PushStreamHttpRequest, type PushStreamHttpResponse } from './http-client.interface.js';

/**
 * Transport on @nestjs/axios's HttpService, for applications that want their axios
 * interceptors and agents on publishes. Import it from `nestjs-push-stream/axios` and pass it as
 * `httpClient: AxiosHttpClient`; give HttpModule a keep-alive agent, or it opens a connection per publish.
 */
@Injectable()
export class AxiosHttpClient extends PushStreamHttpClient {
  constructor(private readonly http: HttpService) {
    super();
  }

  async request(req: PushStreamHttpRequest): Promise<PushStreamHttpResponse> {
    try {
      const res = await firstValueFrom(
        this.http.request<string>({
          method: req.method,
          url: req.url,
          headers: req.headers,
          data: req.body,
          timeout: req.timeoutMs,
          // Every status is an answer for the service to judge; only transport failures throw.
          validateStatus: () => true,
          // Never follow a redirect: axios would replay a POST as a GET, which nginx answers 200
          // with channel info, so a publish that never happened would pass for a success. Also
          // skips the follow-redirects wrapper, about a third of axios' CPU per publish (bench/).
          maxRedirects: 0,
          responseType: 'text',
          // Keep bodies as text: the dialects parse them, and push-stream's are not always JSON.
          transformResponse: [(d: unknown) => d],
        }),
      );
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(res.headers ?? {})) {
        if (v !== undefined && v !== null) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : String(v);
      }
      return { status: res.status, headers, body: typeof res.data === 'string' ? res.data : String(res.data ?? '') };
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'ECONNABORTED' || code === 'ETIMEDOUT' || code === 'ERR_CANCELED') {
        throw new PushStreamTimeoutError(req.url, req.timeoutMs);
      }
      throw new PushStreamConnectionError(req.url, err);
    }
  }
}

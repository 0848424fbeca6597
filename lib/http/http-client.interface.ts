/** A request the service asks the HTTP client to make. Bodies are strings: nginx stores them as raw bytes. */
export interface PushStreamHttpRequest {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  url: string;
  headers: Record<string, string>;
  body?: string;
  /** Abort after this many milliseconds; the client rejects with a timeout error. */
  timeoutMs: number;
}

export interface PushStreamHttpResponse {
  status: number;
  /** Header names in lower case. */
  headers: Record<string, string>;
  body: string;
}

/**
 * Transport used by PushStreamService, and the injection token it is provided under: an abstract
 * class rather than an interface so that the type and the token are one name (as @nestjs/cache-manager's
 * `Cache`). Replace it with `httpClient: MyClient` in the module options, or in a test with
 * `.overrideProvider(PushStreamHttpClient).useValue(fake)`.
 *
 * Implementations must resolve for every HTTP status and reject only for transport failures,
 * with a PushStreamConnectionError or PushStreamTimeoutError.
 */
export abstract class PushStreamHttpClient {
  abstract request(req: PushStreamHttpRequest): Promise<PushStreamHttpResponse>;
}

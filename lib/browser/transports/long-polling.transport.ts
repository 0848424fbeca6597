import { errorReason, hasGlobal, type Transport, type TransportContext } from './transport.js';

/**
 * Long polling. The subscription counts as open (onOpen: state 'open', backoff reset) only once
 * nginx answered a poll with a status the dialect reads as a live subscription ('messages' with a
 * body, or 'no-message'), never because a poll is pending: nginx holds a poll while its
 * auth_request waits for a slow application too, and then answers it with a 5xx. A quiet channel
 * therefore stays 'connecting' until its first message or the server's poll timeout (304).
 */
export const longPollingTransport: Transport = {
  name: 'longpolling',
  available: () => hasGlobal('fetch'),
  open(ctx: TransportContext): () => void {
    const controller = new AbortController();
    const loop = async (): Promise<void> => {
      for (let first = true; ctx.isCurrent(); first = false) {
        const ready = first ? undefined : ctx.beforeNextRequest();
        if (ready) {
          await ready;
          if (!ctx.isCurrent()) return;
        }
        let res: Response;
        try {
          // A new URL for every poll: the resume position moves from answer to answer.
          res = await fetch(ctx.url(), {
            method: 'GET',
            cache: 'no-store',
            credentials: ctx.withCredentials ? 'include' : 'same-origin',
            signal: controller.signal,
          });
        } catch (err) {
          if (ctx.isCurrent()) ctx.onEnd({ reason: errorReason(err) });
          return;
        }
        if (!ctx.isCurrent()) return;
        const answer = ctx.dialect.longPollAnswer(res.status);
        if (answer === 'no-message') {
          void res.body?.cancel().catch(() => undefined);
          ctx.onOpen();
          await new Promise((resolve) => setTimeout(resolve, ctx.noMessagePauseMs()));
          continue;
        }
        if (answer === 'ended') {
          void res.body?.cancel().catch(() => undefined);
          ctx.onEnd({ status: res.status, reason: `HTTP ${res.status}` });
          return;
        }
        const body = await res.text().catch(() => null);
        if (!ctx.isCurrent()) return;
        if (body === null) {
          ctx.onEnd({ reason: 'long-poll body interrupted' });
          return;
        }
        ctx.onOpen();
        let fresh = false;
        for (const f of ctx.dialect.decode(body, ctx.dialect.longPollMeta(res.headers), ctx.channels())) fresh = ctx.onFrame(f) || fresh;
        // Only repeats (a resume from before a message still missing, answered from the store at
        // once): pause as after "no message", or the loop would poll without end into limit_req.
        if (!fresh) await new Promise((resolve) => setTimeout(resolve, ctx.noMessagePauseMs()));
      }
    };
    void loop();
    return () => controller.abort();
  },
};

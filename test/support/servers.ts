// The servers every nginx-backed suite runs on. Both by default: a push-stream run that cannot
// find its module fails with the reason (NginxTestServer says how to build it). Leaving it out
// takes SKIP_PUSH_STREAM=1, which the summary reporter announces at the end of the run.
import type { PushStreamServerKind } from '../../lib/options/push-stream-options.interface.js';

export const SKIP_PUSH_STREAM = process.env.SKIP_PUSH_STREAM === '1';

export const SERVERS: PushStreamServerKind[] = SKIP_PUSH_STREAM ? ['nchan'] : ['nchan', 'push-stream'];

import { PushStreamProtocolError } from '../errors/push-stream.exception.js';

/** Parses a JSON object body, or throws a protocol error naming the operation. */
export function parseJsonObject(operation: string, body: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    throw new PushStreamProtocolError(operation, `body is not JSON: ${JSON.stringify(body.slice(0, 120))}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new PushStreamProtocolError(operation, 'body is not a JSON object');
  }
  return value as Record<string, unknown>;
}

/** Reads a numeric field (servers send counts as numbers; some older builds as strings). */
export function count(operation: string, obj: Record<string, unknown>, field: string): number {
  const v = obj[field];
  const n = typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n)) {
    throw new PushStreamProtocolError(operation, `field "${field}" is missing or not a number`);
  }
  return n;
}

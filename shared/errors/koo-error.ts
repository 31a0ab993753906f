/**
 * The one error type of the pipeline. `code` comes from a fixed list so callers branch on it
 * (never on message text); `retriable` says whether doing the same thing again can succeed.
 */
export const errorCodes = [
  'CONFIG_INVALID',
  'DECODE_FAILED',
  'VALIDATION_FAILED',
  'SCHEMA_UNKNOWN',
  'REGISTRY_UNAVAILABLE',
  'SINK_UNAVAILABLE',
  'SINK_THROTTLED',
  'SINK_REJECTED',
  /** An item over DynamoDB's 400 KB limit: the record that makes it cannot be written as it is. */
  'ITEM_TOO_LARGE',
  'KAFKA_UNAVAILABLE',
  'SHUTTING_DOWN',
  /**
   * The worker's state store lost writes this member made (a Redis that came back empty): the
   * runtime drops the chunk and fetches it again, and the worker's `resumeFrom` says where to go on.
   */
  'STATE_LOST',
  'INTERNAL',
] as const;
export type ErrorCode = (typeof errorCodes)[number];

export interface KooErrorOptions {
  retriable?: boolean;
  cause?: unknown;
  /** Structured context for logs and DLQ headers (field names, ids). */
  details?: Record<string, unknown>;
}

export class KooError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: KooErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'KooError';
    this.code = code;
    this.retriable = options.retriable ?? false;
    this.details = options.details ?? {};
  }
}

export function isKooError(err: unknown): err is KooError {
  return err instanceof KooError;
}

/**
 * Whether doing the same thing again can succeed. Our errors say so; kafkajs errors carry
 * `retriable`; AWS errors carry `$fault` ('client' = the request itself is wrong). Programming
 * errors (TypeError and kin) are not retriable; anything else (a dropped connection) is.
 */
export function isRetriable(err: unknown): boolean {
  if (isKooError(err)) return err.retriable;
  if (err instanceof TypeError || err instanceof RangeError || err instanceof SyntaxError) return false;
  if (typeof err === 'object' && err !== null) {
    const e = err as { retriable?: unknown; $fault?: unknown };
    if (typeof e.retriable === 'boolean') return e.retriable;
    if (e.$fault === 'client') return false;
  }
  return true;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

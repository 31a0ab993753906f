import { KooError } from '../errors/koo-error.ts';

/** Capped exponential backoff with full jitter (the AWS architecture blog's recommendation). */
export function backoffDelayMs(attempt: number, baseMs = 50, capMs = 5_000): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(Math.random() * ceiling);
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Runs `fn` over `items` with at most `concurrency` calls in flight; resolves when all settled.
 * Once `signal` aborts, no new call starts and it rejects with SHUTTING_DOWN after the calls in
 * flight (the caller's batch is then not committed and is redelivered: effects are idempotent).
 */
export async function mapConcurrent<T, R>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T, index: number) => Promise<R>,
  signal?: AbortSignal,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  async function lane(): Promise<void> {
    while (next < items.length && !failure) {
      if (signal?.aborted) {
        failure = {
          error: new KooError('SHUTTING_DOWN', 'stopped before the batch was done', { retriable: true }),
        };
        break;
      }
      const i = next++;
      try {
        results[i] = await fn(items[i]!, i);
      } catch (error) {
        failure ??= { error };
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, lane));
  if (failure) throw failure.error;
  return results;
}

import { isKooError, isRetriable } from '../errors/koo-error.ts';
import type { DecodedRecord } from '../kafka/records.ts';
import type { Logger } from '../logging/logger.ts';
import { metrics } from '../metrics/metrics.ts';
import { Retries, batchRetryPolicy } from './retry.ts';
import type { HandlerContext, Rejection, WorkerDefinition } from './worker-definition.ts';

/**
 * Runs one of the worker's steps around a chunk (prepare: what decoding needs, such as writer
 * schemas; resumeFrom; handled) until it succeeds, the partition waiting meanwhile. Resolves
 * `{ value }`, or undefined when `signal` interrupted it.
 */
export async function untilDone<V>(
  step: string,
  run: () => Promise<V>,
  records: number,
  logger: Logger,
  heartbeat: () => Promise<void>,
  signal: AbortSignal,
): Promise<{ value: V } | undefined> {
  const retries = new Retries(batchRetryPolicy, signal);
  for (;;) {
    try {
      return { value: await run() };
    } catch (error) {
      await heartbeat();
      const retrying = await retries.wait((delayMs, attempt) =>
        logger.warn({ err: error, attempt, delayMs, records }, `${step} failed; retrying`),
      );
      if (!retrying) return undefined;
    }
  }
}

/**
 * Runs the worker's handler until it succeeds, retrying retriable failures with backoff while
 * the worker runs. A non-retriable failure splits the batch to find the record at fault (by
 * bisection), so one bad record is dead-lettered and never stalls the partition. Returns the
 * rejected records, or undefined when the context's signal (shutdown, rebalance) interrupted them.
 */
export async function handleIsolatingFailures<T>(
  worker: WorkerDefinition<T>,
  batch: DecodedRecord<T>[],
  ctx: HandlerContext,
): Promise<Rejection<T>[] | undefined> {
  if (batch.length === 0) return [];
  const retries = new Retries(batchRetryPolicy, ctx.signal);
  for (;;) {
    try {
      return (await worker.handle(batch, ctx)) ?? [];
    } catch (error) {
      if (ctx.signal.aborted) return undefined;
      // Not the batch's fault, and not fixed by a retry here: the runtime fetches the chunk again.
      if (isKooError(error) && error.code === 'STATE_LOST') throw error;
      if (!isRetriable(error)) {
        if (batch.length === 1) return [{ record: batch[0]!, error }];
        const mid = Math.ceil(batch.length / 2);
        const first = await handleIsolatingFailures(worker, batch.slice(0, mid), ctx);
        if (!first) return undefined;
        const second = await handleIsolatingFailures(worker, batch.slice(mid), ctx);
        return second && [...first, ...second];
      }
      metrics.batchRetries.inc({ worker: worker.name, topic: batch[0]!.raw.topic });
      const retrying = await retries.wait((delayMs, attempt) =>
        ctx.logger.warn({ err: error, attempt, delayMs, records: batch.length }, 'batch failed; retrying'),
      );
      if (!retrying) return undefined;
    }
  }
}

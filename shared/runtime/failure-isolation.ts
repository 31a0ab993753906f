import { isRetriable } from '../errors/koo-error.ts';
import type { DecodedRecord, RawRecord } from '../kafka/records.ts';
import type { Logger } from '../logging/logger.ts';
import { metrics } from '../metrics/metrics.ts';
import { Retries, batchRetryPolicy } from './retry.ts';
import type { HandlerContext, Rejection, WorkerDefinition } from './worker-definition.ts';

/**
 * Runs the worker's prepare step (what decoding needs, such as writer schemas) until it
 * succeeds, the partition waiting meanwhile. Resolves false when `signal` interrupted it.
 */
export async function prepareUntilDone<T>(
  worker: WorkerDefinition<T>,
  raw: readonly RawRecord[],
  logger: Logger,
  heartbeat: () => Promise<void>,
  signal: AbortSignal,
): Promise<boolean> {
  const retries = new Retries(batchRetryPolicy, signal);
  for (;;) {
    try {
      await worker.prepare!(raw);
      return true;
    } catch (error) {
      await heartbeat();
      const retrying = await retries.wait((delayMs, attempt) =>
        logger.warn(
          { err: error, attempt, delayMs, records: raw.length },
          'preparing batch failed; retrying',
        ),
      );
      if (!retrying) return false;
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

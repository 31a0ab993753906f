import type { IHeaders, Producer } from 'kafkajs';
import { KooError, errorMessage, isKooError } from '../errors/koo-error.ts';
import type { RawRecord } from './records.ts';

/** Header names on a DLQ record: what failed, where it came from, and when. */
export const dlqHeaders = {
  code: 'koo-error-code',
  reason: 'koo-error-reason',
  worker: 'koo-worker',
  topic: 'koo-source-topic',
  partition: 'koo-source-partition',
  offset: 'koo-source-offset',
  failedAt: 'koo-failed-at',
} as const;

/**
 * Set by `koo dlq redrive` on a record it puts back on its source topic: only the named worker
 * processes it; every other consumer of the topic handled the original already and skips it.
 */
export const redriveForHeader = 'koo-redrive-for';

/** The worker a redriven record is meant for, or undefined for an ordinary record. */
export function redriveTarget(record: RawRecord): string | undefined {
  const value = record.headers[redriveForHeader];
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined ? undefined : first.toString();
}

export interface DeadLetter {
  record: RawRecord;
  error: unknown;
}

/**
 * Sends records that cannot be processed to the DLQ topic with the original key, value and
 * headers plus headers naming the error and the source position, so they can be inspected
 * and redriven. Waits for all in-sync replicas: the source offset is committed right after.
 */
export async function sendToDlq(
  producer: Producer,
  dlqTopic: string,
  worker: string,
  letters: readonly DeadLetter[],
): Promise<void> {
  if (letters.length === 0) return;
  const now = new Date().toISOString();
  await producer.send({
    topic: dlqTopic,
    acks: -1,
    messages: letters.map(({ record, error }) => {
      const err = isKooError(error) ? error : new KooError('INTERNAL', errorMessage(error), { cause: error });
      const headers: IHeaders = {
        ...record.headers,
        [dlqHeaders.code]: err.code,
        [dlqHeaders.reason]: err.message.slice(0, 2000),
        [dlqHeaders.worker]: worker,
        [dlqHeaders.topic]: record.topic,
        [dlqHeaders.partition]: String(record.partition),
        [dlqHeaders.offset]: record.offset,
        [dlqHeaders.failedAt]: now,
      };
      return { key: record.key, value: record.value, headers };
    }),
  });
}

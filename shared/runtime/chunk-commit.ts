import type { Consumer, Producer } from 'kafkajs';
import { KooError, errorMessage } from '../errors/koo-error.ts';
import { sendToDlq, type DeadLetter } from '../kafka/dlq.ts';
import type { RawRecord } from '../kafka/records.ts';
import type { Logger } from '../logging/logger.ts';
import { metrics } from '../metrics/metrics.ts';
import type { WorkerDefinition } from './worker-definition.ts';

/** Sends records that can never be processed to the DLQ with their reason, counted and logged. */
export async function deadLetter(
  producer: Producer,
  dlqTopic: string,
  workerName: string,
  letters: readonly DeadLetter[],
  logger: Logger,
): Promise<void> {
  if (letters.length === 0) return;
  await sendToDlq(producer, dlqTopic, workerName, [...letters]);
  for (const { record, error } of letters) {
    const code = error instanceof KooError ? error.code : 'INTERNAL';
    metrics.eventsDeadLettered.inc({ worker: workerName, topic: record.topic, code });
    logger.warn(
      {
        topic: record.topic,
        partition: record.partition,
        offset: record.offset,
        code,
        reason: errorMessage(error),
      },
      'record sent to DLQ',
    );
  }
}

/**
 * Commits the chunk's partition past its last record, or, for a worker that holds records
 * across chunks, up to the first offset it still holds. Resolves false when the commit failed
 * (the partition was lost in a rebalance: its new owner redoes the chunk, whose effects are idempotent).
 */
export async function commitChunk(
  consumer: Consumer,
  worker: Pick<WorkerDefinition<unknown>, 'name' | 'heldFrom'>,
  raw: readonly RawRecord[],
  logger: Logger,
): Promise<boolean> {
  const last = raw[raw.length - 1]!;
  const offset = worker.heldFrom?.(last.topic, last.partition) ?? BigInt(last.offset) + 1n;
  const stopTimer = metrics.commitDuration.startTimer({ worker: worker.name });
  try {
    await consumer.commitOffsets([
      { topic: last.topic, partition: last.partition, offset: offset.toString() },
    ]);
    return true;
  } catch (err) {
    logger.warn({ err, topic: last.topic, partition: last.partition }, 'offset commit failed');
    return false;
  } finally {
    stopTimer();
  }
}

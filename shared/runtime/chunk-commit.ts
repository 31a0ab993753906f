import type { Producer } from 'kafkajs';
import { KooError, errorMessage } from '../errors/koo-error.ts';
import { sendToDlq, type DeadLetter } from '../kafka/dlq.ts';
import type { RawRecord } from '../kafka/records.ts';
import type { Logger } from '../logging/logger.ts';
import { metrics } from '../metrics/metrics.ts';
import type { InFlightBatcher } from './in-flight-batcher.ts';
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

export interface PartitionOffset {
  topic: string;
  partition: number;
  offset: string;
}

/**
 * Commits the chunk's partition past its last record, or, for a worker that holds records
 * across chunks, up to the first offset it still holds. Resolves false when the commit failed
 * (the partition was lost in a rebalance: its new owner redoes the chunk, whose effects are idempotent).
 * `commits` sends the group's commits: those asked for while one is in flight go together in
 * the next OffsetCommit request. The broker serves a connection's requests one at a time, so 12
 * partitions' batches ending together made a queue of 12 commits (the last one waited ~40 ms at
 * 500 reactions/s).
 */
export async function commitChunk(
  commits: InFlightBatcher<PartitionOffset>,
  worker: Pick<WorkerDefinition<unknown>, 'name' | 'heldFrom'>,
  raw: readonly RawRecord[],
  logger: Logger,
): Promise<boolean> {
  const last = raw[raw.length - 1]!;
  const offset = worker.heldFrom?.(last.topic, last.partition) ?? BigInt(last.offset) + 1n;
  const stopTimer = metrics.commitDuration.startTimer({ worker: worker.name });
  try {
    await commits.add({ topic: last.topic, partition: last.partition, offset: offset.toString() });
    return true;
  } catch (err) {
    logger.warn({ err, topic: last.topic, partition: last.partition }, 'offset commit failed');
    return false;
  } finally {
    stopTimer();
  }
}

import type { Producer } from 'kafkajs';
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

export interface PartitionOffset {
  topic: string;
  partition: number;
  offset: string;
}

/**
 * The group's offset commits, coalesced: a commit asked for while another is in flight waits for
 * it and goes out with every other one that came meanwhile, in one OffsetCommit request. The
 * broker serves a connection's requests one at a time, so 12 partitions' batches ending together
 * made a queue of 12 commits (the last one waited ~40 ms at 500 reactions/s); now they make two.
 * All of a request's commits succeed or fail together, as each of them alone would in a rebalance.
 */
export class CoalescedCommits {
  private waiting = new Map<string, { offset: PartitionOffset; settle: Array<(ok: boolean) => void> }>();
  private inFlight = false;
  private readonly send: (offsets: PartitionOffset[]) => Promise<void>;
  private readonly logger: Logger;

  constructor(send: (offsets: PartitionOffset[]) => Promise<void>, logger: Logger) {
    this.send = send;
    this.logger = logger;
  }

  /** Resolves true once `offset` is committed, false when the request carrying it failed. */
  commit(offset: PartitionOffset): Promise<boolean> {
    return new Promise((settle) => {
      const key = `${offset.topic}:${offset.partition}`;
      // A partition's chunks commit one after another; a second one waiting is newer.
      const entry = this.waiting.get(key);
      this.waiting.set(key, { offset, settle: [...(entry?.settle ?? []), settle] });
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    if (this.inFlight || this.waiting.size === 0) return;
    this.inFlight = true;
    const batch = [...this.waiting.values()];
    this.waiting = new Map();
    const offsets = batch.map((e) => e.offset);
    let ok = true;
    try {
      await this.send(offsets);
    } catch (err) {
      this.logger.warn({ err, offsets }, 'offset commit failed');
      ok = false;
    }
    this.inFlight = false;
    for (const entry of batch) for (const settle of entry.settle) settle(ok);
    void this.flush();
  }
}

/**
 * Commits the chunk's partition past its last record, or, for a worker that holds records
 * across chunks, up to the first offset it still holds. Resolves false when the commit failed
 * (the partition was lost in a rebalance: its new owner redoes the chunk, whose effects are idempotent).
 */
export async function commitChunk(
  commits: CoalescedCommits,
  worker: Pick<WorkerDefinition<unknown>, 'name' | 'heldFrom'>,
  raw: readonly RawRecord[],
): Promise<boolean> {
  const last = raw[raw.length - 1]!;
  const offset = worker.heldFrom?.(last.topic, last.partition) ?? BigInt(last.offset) + 1n;
  const stopTimer = metrics.commitDuration.startTimer({ worker: worker.name });
  try {
    return await commits.commit({ topic: last.topic, partition: last.partition, offset: offset.toString() });
  } finally {
    stopTimer();
  }
}

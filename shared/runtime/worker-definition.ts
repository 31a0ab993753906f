import type { Logger } from '../logging/logger.ts';
import type { DecodedRecord, RawRecord } from '../kafka/records.ts';

export interface HandlerContext {
  logger: Logger;
  /**
   * Aborted when the worker is shutting down or this member must rejoin its group (a rebalance,
   * after which another member may own the partition): stop starting new work and throw; the
   * batch is not committed, and its effects are redone from the committed offset.
   */
  signal: AbortSignal;
  /** Keeps the group membership alive during long work (a big fan-out, a backfill). */
  heartbeat(): Promise<void>;
}

/** Where a partition goes back to: an offset, or the first record at or after a time (epoch ms). */
export type Resume = { fromOffset: bigint } | { fromTimeMs: number };

export interface Rejection<T> {
  record: DecodedRecord<T>;
  error: unknown;
}

/**
 * What a worker supplies to the shared runtime: how to decode one record, and how to apply the
 * effects of a batch of decoded records.
 */
export interface WorkerDefinition<T> {
  /** Short name: metrics label, log component, DLQ header. */
  name: string;
  groupId: string;
  topics: string[];
  /**
   * Of `topics`, those the worker joins as tables (content: users, whose rows its koos read):
   * this member's partitions of them are caught up before batches of the others run (see
   * TableFirstGate).
   */
  tableTopics?: readonly string[];
  /**
   * Optional: loads what `decode` needs for a batch and cannot get synchronously (writer schemas
   * from the schema registry), so that decode stays pure. Problems of single records are left for
   * decode to report; a thrown error is retried with backoff while the partition waits.
   */
  prepare?(records: readonly RawRecord[]): Promise<void>;
  /**
   * Pure: the record's value, or `null` to skip it (a tombstone, an event the worker does not
   * care about). Throws a KooError for a record that can never be processed (it goes to the DLQ).
   */
  decode(record: RawRecord): T | null;
  /**
   * Applies the effects of the batch (records of one partition, in offset order) and resolves
   * once they are durable; the runtime then commits. Records rejected as permanently invalid are
   * returned and go to the DLQ. Throwing a retriable error runs the batch again (effects must be
   * idempotent); a non-retriable one makes the runtime isolate the failing record by bisection.
   */
  handle(batch: DecodedRecord<T>[], ctx: HandlerContext): Promise<Rejection<T>[] | void>;
  /**
   * For a worker that holds records across batches (the lake fills a file over many): the first
   * offset of the partition that is still only in memory, or undefined when nothing is held. The
   * runtime commits up to there instead of past the batch. Without it, everything handled is
   * durable once `handle` resolves.
   */
  heldFrom?(topic: string, partition: number): bigint | undefined;
  /**
   * Told of this member's partitions after every group join. The runtime then resumes every
   * partition from its committed offset, so a worker that holds records drops all it holds, also
   * of partitions it keeps (another member may have owned them meanwhile).
   */
  assigned?(partitions: Record<string, number[]>): void;
  /**
   * For a worker whose state lives in a store that can lose its newest writes (Redis): where the
   * chunk's partition must go back to before the chunk is handled, or undefined to go on. The
   * runtime seeks there and drops the chunk (never forward: a position at or after the chunk's
   * first offset goes on). Retried with backoff while it throws.
   */
  resumeFrom?(topic: string, partition: number, firstOffset: bigint): Promise<Resume | undefined>;
  /** Told of each chunk handled (the offset after it) before its commit; retried while it throws. */
  handled?(topic: string, partition: number, nextOffset: bigint): Promise<void>;
  /** Whether the worker's sinks answer; feeds /readyz. */
  sinkReady?(): Promise<boolean>;
  close?(): Promise<void>;
}

/** What a worker class is built from: its adapters (named by each worker), its config and the clock. */
export interface WorkerParts<Config> {
  config: Config;
  /** Epoch ms; tests set it. */
  now?: () => number;
}

/**
 * The part every worker class shares: its parts held as one object (named, so a construction
 * reads `{ codec, store, config }`), the consumer group its config names, and the clock.
 */
export abstract class WorkerBase<Parts extends WorkerParts<unknown>, T> implements WorkerDefinition<T> {
  abstract readonly name: string;
  abstract readonly topics: string[];
  readonly groupId: string;
  protected readonly parts: Parts;
  protected readonly now: () => number;

  constructor(groupId: string, parts: Parts) {
    this.groupId = groupId;
    this.parts = parts;
    this.now = parts.now ?? Date.now;
  }

  abstract decode(record: RawRecord): T | null;
  abstract handle(batch: DecodedRecord<T>[], ctx: HandlerContext): Promise<Rejection<T>[] | void>;
}

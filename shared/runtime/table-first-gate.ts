/** A partition of a topic, as kafkajs names it. */
export interface TopicPartition {
  topic: string;
  partition: number;
}

/** Where a table partition stands: the next offset to process, and the end last seen (its high watermark). */
export interface TablePosition extends TopicPartition {
  next: bigint;
  end: bigint;
}

/** Stops and restarts fetching a partition (kafkajs's consumer.pause and resume). */
export interface PartitionControl {
  pause(tp: TopicPartition): void;
  resume(tp: TopicPartition): void;
}

const keyOf = (tp: TopicPartition) => `${tp.topic}:${tp.partition}`;

/**
 * Kafka Streams' timestamp synchronization, reduced to what a stream-table join needs: a member
 * processes what it holds of the topics a worker joins as tables (users, for the content worker's
 * koos) before batches of its other topics. A koo then finds its creator's row written, instead
 * of waiting for it in a pending set and being written twice. Both topics of a backlog (a replay,
 * a catch-up after an outage) arrive in the same fetches, and in no useful order.
 *
 * A stream partition that arrives while a table partition is behind is paused (not fetched, its
 * batch fetched again on resume) until every table partition has caught up, or for at most
 * `maxWaitMs` (Kafka Streams' max.task.idle.ms): a table partition that cannot make progress holds
 * the others up once, not for good. Only an optimization: the join stays correct in any order.
 */
export class TableFirstGate {
  private readonly tables = new Map<string, TablePosition>();
  /** Stream partitions paused by the gate, and their timers. */
  private readonly paused = new Map<string, { tp: TopicPartition; timer: NodeJS.Timeout }>();
  /** Stream partitions that waited their longest since the tables were last caught up. */
  private readonly waitedOut = new Set<string>();

  private readonly tableTopics: ReadonlySet<string>;
  private readonly maxWaitMs: number;
  private readonly control: PartitionControl;

  constructor(tableTopics: ReadonlySet<string>, maxWaitMs: number, control: PartitionControl) {
    this.tableTopics = tableTopics;
    this.maxWaitMs = maxWaitMs;
    this.control = control;
  }

  isTable(topic: string): boolean {
    return this.tableTopics.has(topic);
  }

  /** After a group join: this member's table partitions and where each stands. Resumes all it paused. */
  reset(positions: readonly TablePosition[]): void {
    this.resumeAll();
    this.tables.clear();
    this.waitedOut.clear();
    for (const p of positions) this.tables.set(keyOf(p), { ...p });
  }

  /** A batch of a table partition was fetched: the partition ends at least at its high watermark. */
  fetched(tp: TopicPartition, highWatermark: bigint): void {
    const t = this.tables.get(keyOf(tp));
    if (t && highWatermark > t.end) t.end = highWatermark;
  }

  /** A table partition's records up to `next` are processed. */
  processed(tp: TopicPartition, next: bigint): void {
    const t = this.tables.get(keyOf(tp));
    if (!t) return;
    if (next > t.next) t.next = next;
    if (this.tablesCaughtUp()) {
      this.waitedOut.clear();
      this.resumeAll();
    }
  }

  /**
   * Whether a batch of this stream partition must wait for the tables: if so, the partition is
   * paused here and the caller leaves the batch unprocessed.
   */
  holds(tp: TopicPartition): boolean {
    const key = keyOf(tp);
    if (this.maxWaitMs === 0 || this.tableTopics.has(tp.topic) || this.waitedOut.has(key)) return false;
    if (this.tablesCaughtUp()) return false;
    if (!this.paused.has(key)) {
      const timer = setTimeout(() => {
        this.waitedOut.add(key);
        this.resume(key);
      }, this.maxWaitMs);
      timer.unref();
      this.paused.set(key, { tp, timer });
      this.control.pause(tp);
    }
    return true;
  }

  /** Resumes every partition the gate paused (on shutdown too). */
  resumeAll(): void {
    for (const key of [...this.paused.keys()]) this.resume(key);
  }

  private resume(key: string): void {
    const entry = this.paused.get(key);
    if (!entry) return;
    clearTimeout(entry.timer);
    this.paused.delete(key);
    this.control.resume(entry.tp);
  }

  private tablesCaughtUp(): boolean {
    for (const t of this.tables.values()) if (t.next < t.end) return false;
    return true;
  }
}

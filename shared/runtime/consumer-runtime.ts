import {
  Partitioners,
  type Admin,
  type Consumer,
  type EachBatchPayload,
  type Kafka,
  type Producer,
} from 'kafkajs';
import { KooError, isKooError } from '../errors/koo-error.ts';
import { redriveTarget, type DeadLetter } from '../kafka/dlq.ts';
import { rawRecordOf, type DecodedRecord, type RawRecord } from '../kafka/records.ts';
import type { Logger } from '../logging/logger.ts';
import { metrics } from '../metrics/metrics.ts';
import { endSpan, startRecordSpans } from '../telemetry/tracing.ts';
import { commitChunk, deadLetter, type PartitionOffset } from './chunk-commit.ts';
import { handleIsolatingFailures, untilDone } from './failure-isolation.ts';
import { sleep } from './backoff.ts';
import { InFlightBatcher } from './in-flight-batcher.ts';
import { runStoppable } from './process-shutdown.ts';
import { TableFirstGate, type TablePosition } from './table-first-gate.ts';
import type { HandlerContext, Resume, WorkerDefinition } from './worker-definition.ts';

// Protocol error types (kafkajs `type`) that mean this member must rejoin the group.
const rebalanceErrors = new Set(['REBALANCE_IN_PROGRESS', 'UNKNOWN_MEMBER_ID', 'ILLEGAL_GENERATION']);

export interface ConsumerRuntimeOptions {
  batchSize: number;
  dlqTopic: string;
  sessionTimeoutMs: number;
  /** How long the group waits for members to rejoin; their work stops on the rebalance's first heartbeat. */
  rebalanceTimeoutMs: number;
  fromBeginning: boolean;
  /** Kafka's fetch.min.bytes and fetch.max.wait.ms (FETCH_MIN_BYTES, FETCH_MAX_WAIT_MS). */
  fetchMinBytes?: number;
  fetchMaxWaitMs?: number;
  /** Partitions whose batches run at the same time (order is kept within each partition). */
  partitionsConcurrently: number;
  /** The longest a partition waits for this member's partitions of the worker's `tableTopics` to catch up (0: never). */
  tableCatchUpMaxMs?: number;
  /** Told of every batch once committed (benchmarks measure end-to-end latency with it). */
  onCommitted?: (records: readonly RawRecord[]) => void;
  /**
   * Told when the consumer stopped for good: kafkajs gives up on errors it deems non-retriable
   * (no group coordinator while a broker restarts, for one) and leaves a live process that
   * consumes nothing. The process should exit, so that its supervisor starts a fresh one.
   */
  onFatal?: (error: Error) => void;
}

/**
 * The shared consumer loop. For every partition batch it decodes, hands the decoded records to
 * the worker, sends rejects to the DLQ, and commits the offset after the last record only once
 * all of that is durable (or, for a worker that holds records across batches, the first offset it
 * still holds): at-least-once delivery, made exactly-once by idempotent sinks.
 * Its parts by role: this loop (fetch, chunks, heartbeats, rebalances, lag), retries and
 * isolation of a failing record (`failure-isolation.ts`), dead letters and the commit
 * (`chunk-commit.ts`).
 */
export class ConsumerRuntime<T> {
  private readonly kafka: Kafka;
  private readonly consumer: Consumer;
  private readonly producer: Producer;
  private readonly commits: InFlightBatcher<PartitionOffset>;
  private readonly stopping = new AbortController();
  private joined = false;
  private running = false;
  private closed: Promise<void> | undefined;
  private readonly worker: WorkerDefinition<T>;
  private readonly options: ConsumerRuntimeOptions;
  private readonly logger: Logger;
  /** Present when the worker joins topics as tables: their partitions go first. */
  private readonly tablesFirst: TableFirstGate | undefined;
  /** Settles once the gate knows where this member's table partitions stand after the last join. */
  private tablesPlaced: Promise<void> = Promise.resolve();
  private joins = 0;

  constructor(kafka: Kafka, worker: WorkerDefinition<T>, options: ConsumerRuntimeOptions, logger: Logger) {
    this.kafka = kafka;
    this.worker = worker;
    this.options = options;
    this.logger = logger;
    this.consumer = kafka.consumer({
      groupId: worker.groupId,
      sessionTimeout: options.sessionTimeoutMs,
      rebalanceTimeout: options.rebalanceTimeoutMs,
      heartbeatInterval: Math.floor(options.sessionTimeoutMs / 10),
      // A batch larger than the worker's batch size is split; this bounds memory per fetch.
      maxBytesPerPartition: 1024 * 1024,
      minBytes: options.fetchMinBytes ?? 1,
      maxWaitTimeInMs: options.fetchMaxWaitMs ?? 5000,
      retry: { retries: 10 },
    });
    // Idempotent producer: a retried DLQ send never writes a record twice.
    // murmur2 (kafkajs's DefaultPartitioner, the Java client's), so a redriven record lands where
    // any other client would put its key.
    this.producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    // One commit of a partition waits at a time: the newer offset replaces the older.
    this.commits = new InFlightBatcher((offsets) => this.consumer.commitOffsets(offsets), {
      keyOf: (o) => `${o.topic}:${o.partition}`,
    });
    const tableTopics = new Set(worker.tableTopics ?? []);
    this.tablesFirst =
      tableTopics.size > 0 && (options.tableCatchUpMaxMs ?? 0) > 0
        ? new TableFirstGate(tableTopics, options.tableCatchUpMaxMs!, {
            pause: ({ topic, partition }) => this.consumer.pause([{ topic, partitions: [partition] }]),
            resume: ({ topic, partition }) => this.consumer.resume([{ topic, partitions: [partition] }]),
          })
        : undefined;
    const { GROUP_JOIN, CRASH, DISCONNECT, STOP } = this.consumer.events;
    this.consumer.on(GROUP_JOIN, (e) => {
      this.joined = true;
      if (this.tablesFirst) this.placeTables(this.tablesFirst, e.payload.memberAssignment);
      this.forgetLagOfLostPartitions(e.payload.memberAssignment);
      this.worker.assigned?.(e.payload.memberAssignment);
      this.logger.info(
        { memberId: e.payload.memberId, assignment: e.payload.memberAssignment },
        'joined group',
      );
    });
    this.consumer.on(CRASH, (e) => {
      this.joined = false;
      this.logger.error({ err: e.payload.error, restart: e.payload.restart }, 'consumer crashed');
      if (!e.payload.restart && !this.stopping.signal.aborted) this.options.onFatal?.(e.payload.error);
    });
    this.consumer.on(DISCONNECT, () => (this.joined = false));
    this.consumer.on(STOP, () => (this.joined = false));
  }

  /**
   * Partitions whose lag this member exports. A partition that moved to another member stops
   * being exported here, so that a sum over members counts each partition once, and fresh.
   */
  private readonly lagExported = new Map<string, { topic: string; partition: string }>();

  private forgetLagOfLostPartitions(assignment: Record<string, number[]>): void {
    for (const [key, { topic, partition }] of this.lagExported) {
      if (assignment[topic]?.includes(Number(partition))) continue;
      metrics.consumerLag.remove({ worker: this.worker.name, topic, partition });
      this.lagExported.delete(key);
    }
  }

  /** Joined the group and running: feeds /readyz. */
  isReady(): boolean {
    return this.running && this.joined;
  }

  async start(): Promise<void> {
    await this.producer.connect();
    await this.consumer.connect();
    for (const topic of this.worker.topics) {
      await this.consumer.subscribe({ topic, fromBeginning: this.options.fromBeginning });
    }
    this.running = true;
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.options.partitionsConcurrently,
      eachBatch: (payload) => this.runBatch(payload),
    });
  }

  private async runBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, resolveOffset, isRunning, isStale } = payload;
    const messages = batch.messages;
    // kafkajs rejoins a rebalance only when eachBatch returns: once a heartbeat says the group is
    // rebalancing, the handler's signal stops its work (retries, fan-out pages, propagation) and
    // nothing more of the batch is committed; whoever owns the partition after the rebalance
    // redoes it from the committed offset. Waiting for the work instead would hold up the whole
    // group's rebalance, and past the rebalance timeout this member's writes would race the next owner's.
    const rebalance = new AbortController();
    const signal = AbortSignal.any([this.stopping.signal, rebalance.signal]);
    const heartbeat = () =>
      payload.heartbeat().catch((err: { type?: string }) => {
        if (err.type && rebalanceErrors.has(err.type)) rebalance.abort();
      });
    const gate = this.tablesFirst;
    const tp = { topic: batch.topic, partition: batch.partition };
    if (gate) {
      await this.tablesPlaced;
      if (gate.isTable(batch.topic)) gate.fetched(tp, BigInt(batch.highWatermark));
      else if (gate.holds(tp)) return; // paused: fetched again once the tables caught up
    }
    for (let i = 0; i < messages.length; i += this.options.batchSize) {
      if (!isRunning() || isStale() || signal.aborted) return;
      const started = process.hrtime.bigint();
      const raw = messages
        .slice(i, i + this.options.batchSize)
        .map((m) => rawRecordOf(batch.topic, batch.partition, m));
      if (this.worker.resumeFrom) {
        const resume = await untilDone(
          'resumeFrom',
          async () => {
            const at = await this.worker.resumeFrom!(batch.topic, batch.partition, BigInt(raw[0]!.offset));
            return at && this.offsetOf(batch.topic, batch.partition, at);
          },
          raw.length,
          this.logger,
          heartbeat,
          signal,
        );
        if (!resume || (resume.value !== undefined && this.wentBack(raw[0]!, resume.value))) return;
      }
      let committed: boolean;
      try {
        committed = await this.processChunk(raw, heartbeat, signal);
      } catch (err) {
        if (!(isKooError(err) && err.code === 'STATE_LOST')) throw err;
        this.logger.warn(
          { err, topic: batch.topic, partition: batch.partition },
          'worker state lost; fetching the chunk again',
        );
        this.consumer.seek({ topic: batch.topic, partition: batch.partition, offset: raw[0]!.offset });
        return;
      }
      if (!committed) {
        if (rebalance.signal.aborted)
          this.logger.info(
            { topic: batch.topic, partition: batch.partition },
            'rebalance: batch left to the next owner',
          );
        return;
      }
      const last = raw[raw.length - 1]!;
      resolveOffset(last.offset);
      gate?.processed(tp, BigInt(last.offset) + 1n);
      this.options.onCommitted?.(raw);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      metrics.batchDuration.observe({ worker: this.worker.name, topic: batch.topic }, seconds);
      metrics.eventsConsumed.inc({ worker: this.worker.name, topic: batch.topic }, raw.length);
      const lag = BigInt(batch.highWatermark) - BigInt(last.offset) - 1n;
      const partition = String(batch.partition);
      this.lagExported.set(`${batch.topic}:${partition}`, { topic: batch.topic, partition });
      metrics.consumerLag.set(
        { worker: this.worker.name, topic: batch.topic, partition },
        Number(lag < 0n ? 0n : lag),
      );
      await heartbeat();
    }
  }

  /** Where each partition was last sent back to (`topic:partition` → offset). */
  private readonly wentBackTo = new Map<string, bigint>();

  /**
   * Seeks the chunk's partition back to where the worker says it must resume, and says whether
   * it did (the chunk is then dropped). A position at or after the chunk's start goes on, and so
   * does a partition that, sent back to this offset, starts later: the records in between are
   * gone (compacted or past retention).
   */
  private wentBack(first: RawRecord, target: bigint): boolean {
    const key = `${first.topic}:${first.partition}`;
    if (target >= BigInt(first.offset) || this.wentBackTo.get(key) === target) return false;
    this.wentBackTo.set(key, target);
    this.logger.warn(
      { topic: first.topic, partition: first.partition, from: first.offset, to: target.toString() },
      'partition sent back to where the worker resumes',
    );
    this.consumer.seek({ topic: first.topic, partition: first.partition, offset: target.toString() });
    return true;
  }

  private admin: Promise<Admin> | undefined;

  /** The offset a resume names: given, or the first of the partition whose record is at or after its time (the end when none is). */
  private async offsetOf(topic: string, partition: number, resume: Resume): Promise<bigint> {
    if ('fromOffset' in resume) return resume.fromOffset;
    const timeMs = resume.fromTimeMs;
    const offsets = await (await this.adminClient()).fetchTopicOffsetsByTimestamp(topic, timeMs);
    const found = offsets.find((o) => o.partition === partition);
    if (!found)
      throw new KooError('KAFKA_UNAVAILABLE', `no offset of ${topic}:${partition} at ${timeMs}`, {
        retriable: true,
      });
    return BigInt(found.offset);
  }

  /** One admin client, connected on first use (partitions resume concurrently); a failed connect is retried. */
  private adminClient(): Promise<Admin> {
    this.admin ??= (async () => {
      const admin = this.kafka.admin();
      await admin.connect();
      return admin;
    })().catch((err: unknown) => {
      this.admin = undefined;
      throw err;
    });
    return this.admin;
  }

  /**
   * Tells the gate where this member's table partitions stand after a join: the group's committed
   * offset (or where a partition without one starts) and the partition's end. Batches of the
   * other topics wait for this, at most the gate's longest wait; unknown, nothing waits.
   */
  private placeTables(gate: TableFirstGate, assignment: Record<string, number[]>): void {
    gate.reset([]);
    const join = ++this.joins;
    const placed = (async () => {
      const admin = await this.adminClient();
      const positions: TablePosition[] = [];
      for (const [topic, partitions] of Object.entries(assignment)) {
        if (!gate.isTable(topic) || partitions.length === 0) continue;
        const [ends, [committed]] = await Promise.all([
          admin.fetchTopicOffsets(topic),
          admin.fetchOffsets({ groupId: this.worker.groupId, topics: [topic] }),
        ]);
        for (const partition of partitions) {
          const end = ends.find((o) => o.partition === partition);
          const at = committed?.partitions.find((o) => o.partition === partition)?.offset;
          if (!end) continue;
          const start = this.options.fromBeginning ? end.low : end.high;
          positions.push({
            topic,
            partition,
            next: BigInt(at !== undefined && at !== '-1' ? at : start),
            end: BigInt(end.high),
          });
        }
      }
      if (join === this.joins) gate.reset(positions); // not a placement an earlier join started
    })().catch((err: unknown) =>
      this.logger.warn({ err }, 'table partitions not placed; nothing waits for them'),
    );
    this.tablesPlaced = Promise.race([placed, sleep(this.options.tableCatchUpMaxMs ?? 0)]);
  }

  /** Decode, handle, dead-letter, commit, each traced record in its span. Resolves false when `signal` (shutdown, rebalance) interrupted it: nothing committed. */
  private async processChunk(
    raw: RawRecord[],
    heartbeat: () => Promise<void>,
    signal: AbortSignal,
  ): Promise<boolean> {
    const spans = startRecordSpans(raw, this.worker.name, this.worker.groupId);
    try {
      const committed = await this.applyChunk(raw, heartbeat, signal);
      for (const span of spans) endSpan(span.setAttribute('koo.committed', committed));
      return committed;
    } catch (err) {
      for (const span of spans) endSpan(span, err);
      throw err;
    }
  }

  private async applyChunk(
    raw: RawRecord[],
    heartbeat: () => Promise<void>,
    signal: AbortSignal,
  ): Promise<boolean> {
    if (
      this.worker.prepare &&
      !(await runStoppable(signal, () =>
        untilDone(
          'preparing batch',
          () => this.worker.prepare!(raw),
          raw.length,
          this.logger,
          heartbeat,
          signal,
        ),
      ))
    )
      return false;
    const letters: DeadLetter[] = [];
    const decoded: DecodedRecord<T>[] = [];
    for (const record of raw) {
      const redriveFor = redriveTarget(record);
      if (redriveFor !== undefined && redriveFor !== this.worker.name) {
        metrics.eventsSkipped.inc({
          worker: this.worker.name,
          topic: record.topic,
          reason: 'redrive_for_other',
        });
        continue;
      }
      try {
        const value = this.worker.decode(record);
        if (value !== null) decoded.push({ raw: record, value });
      } catch (error) {
        letters.push({ record, error });
      }
    }
    const ctx: HandlerContext = { logger: this.logger, signal, heartbeat };
    // Heartbeats go on while the worker's effects are in flight, so a slow batch is not a dead member.
    const beat = setInterval(() => void ctx.heartbeat(), Math.max(1000, this.options.sessionTimeoutMs / 5));
    try {
      const handled = await runStoppable(signal, () => handleIsolatingFailures(this.worker, decoded, ctx));
      if (!handled) return false;
      letters.push(...handled.map((r) => ({ record: r.record.raw, error: r.error })));
    } finally {
      clearInterval(beat);
    }
    await deadLetter(this.producer, this.options.dlqTopic, this.worker.name, letters, this.logger);
    const last = raw[raw.length - 1]!;
    if (
      this.worker.handled &&
      !(await untilDone(
        'handled',
        () => this.worker.handled!(last.topic, last.partition, BigInt(last.offset) + 1n),
        raw.length,
        this.logger,
        heartbeat,
        signal,
      ))
    )
      return false;
    return commitChunk(this.commits, this.worker, raw, this.logger);
  }

  /** Stops fetching, lets the batch in flight finish (or abandons its retries), commits, leaves the group. Safe to call twice. */
  close(): Promise<void> {
    this.closed ??= (async () => {
      this.stopping.abort();
      this.running = false;
      this.tablesFirst?.resumeAll();
      await this.consumer.stop().catch((err) => this.logger.warn({ err }, 'consumer stop failed'));
      await this.consumer
        .disconnect()
        .catch((err) => this.logger.warn({ err }, 'consumer disconnect failed'));
      await this.producer
        .disconnect()
        .catch((err) => this.logger.warn({ err }, 'producer disconnect failed'));
      await this.admin
        ?.then((admin) => admin.disconnect())
        .catch((err: unknown) => this.logger.warn({ err }, 'admin disconnect failed'));
    })();
    return this.closed;
  }
}

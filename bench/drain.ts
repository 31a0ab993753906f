import type { Kafka } from 'kafkajs';
import { availableParallelism } from 'node:os';
import { provisionTables } from '../infra/provision.ts';
import type { CommonConfig } from '../shared/config/common.ts';
import { Dynamo } from '../shared/dynamodb/dynamo-client.ts';
import { createKafka, kafkaClientOptions } from '../shared/kafka/kafka-client.ts';
import { rawRecordOf, type RawRecord } from '../shared/kafka/records.ts';
import { createLogger } from '../shared/logging/logger.ts';
import { metrics } from '../shared/metrics/metrics.ts';
import { sleep } from '../shared/runtime/backoff.ts';
import { runWorker, type WorkerConfig, type WorkerModule } from '../shared/runtime/run-worker.ts';
import { latencyFigures, round, type Figures } from './report.ts';
import { cpuMeter } from './stack-cpu.ts';

/** A consumer under test: started under a group id, it reports every batch it has done. */
export interface BenchConsumer {
  label: string;
  start: (groupId: string, onDone: (records: readonly RawRecord[]) => void) => Promise<() => Promise<void>>;
}

/**
 * What a benchmark talks to, from its config: a quiet logger, Kafka and its admin (connected),
 * the shared DynamoDB client; the tables are provisioned under each of `tablePrefixes`.
 */
export async function benchConnections(
  config: CommonConfig,
  tablePrefixes: readonly string[] = [],
  clientId = 'koo-bench',
) {
  const logger = createLogger('bench', 'error');
  const kafka = createKafka(kafkaClientOptions(config, clientId), logger);
  const admin = kafka.admin();
  await admin.connect();
  const dynamo = new Dynamo({ region: config.AWS_REGION, endpoint: config.DYNAMODB_ENDPOINT });
  for (const prefix of tablePrefixes) await provisionTables({ ...config, TABLE_PREFIX: prefix }, logger);
  return { logger, kafka, admin, dynamo };
}

/** A worker of the pipeline under test: run in this process by the shared runtime, its group id set through `groupEnv`. */
export function workerConsumer<C extends WorkerConfig, T>(
  label: string,
  module: WorkerModule<C, T>,
  groupEnv: string,
  env: Record<string, string> = {},
): BenchConsumer {
  return {
    label,
    start: async (groupId, onDone) => {
      const worker = await runWorker(module, {
        ownProcess: false,
        env: { ...process.env, LOG_LEVEL: 'error', ...env, [groupEnv]: groupId },
        onCommitted: onDone,
      });
      return () => worker.close();
    },
  };
}

export interface DdbUsage {
  requests: number;
  rcu: number;
  wcu: number;
}

/**
 * DynamoDB requests this process made so far, and the read and write capacity units they consumed
 * (every call goes through the Dynamo wrapper, which asks each for its ConsumedCapacity).
 */
export async function ddbUsage(): Promise<DdbUsage> {
  const requests = (await metrics.dynamodbRequests.get()).values.reduce((s, v) => s + v.value, 0);
  const units = (await metrics.dynamodbCapacityUnits.get()).values;
  const sum = (kind: string) => units.filter((v) => v.labels.kind === kind).reduce((s, v) => s + v.value, 0);
  return { requests, rcu: sum('read'), wcu: sum('write') };
}

/** Requests and capacity units per event between two readings. */
export async function ddbPerEvent(before: DdbUsage, events: number): Promise<Figures> {
  const after = await ddbUsage();
  return {
    ddb_requests_per_event: round((after.requests - before.requests) / events, 3),
    wcu_per_event: round((after.wcu - before.wcu) / events, 3),
    rcu_per_event: round((after.rcu - before.rcu) / events, 3),
  };
}

export async function until(
  what: string,
  cond: () => Promise<boolean> | boolean,
  timeoutMs = 900_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`bench: timed out waiting for ${what}`);
    await sleep(100);
  }
}

/**
 * Drains a backlog of `events` records with one consumer whose group is pinned at the backlog's
 * start: events/s from the moment the consumer runs (joining its group is counted, the same for
 * every consumer: keep backlogs large enough that it is small) to its last batch, and DynamoDB
 * requests per event.
 */
export async function drainBacklog(
  consumer: BenchConsumer,
  groupId: string,
  events: number,
): Promise<Figures> {
  let done = 0;
  let last = 0;
  const before = await ddbUsage();
  const cpu = cpuMeter();
  const started = performance.now();
  const stop = await consumer.start(groupId, (records) => {
    done += records.length;
    last = performance.now();
  });
  await until(`${consumer.label} to drain the backlog`, () => done >= events);
  const used = cpu();
  await stop();
  // CPU per 1,000 events of the consumer's process and of the stack's DynamoDB server and broker
  // (where they run here): the bare consumer's figure is the client's own cost.
  const cpuFigures = Object.fromEntries(
    Object.entries(used).map(([who, ms]) => [`${who}_cpu_ms_per_1k_events`, round((ms / events) * 1000, 1)]),
  );
  return {
    phase: 'backlog',
    consumer: consumer.label,
    events,
    events_per_s: round(done / ((last - started) / 1000), 1),
    ...(await ddbPerEvent(before, events)),
    ...cpuFigures,
  };
}

/**
 * A kafkajs consumer that only reads the topics and reports each batch: the ceiling the Kafka
 * client sets on this machine, against which a worker's throughput is read (share_of_bare_consumer).
 */
export function bareConsumer(kafka: Kafka, topics: string[]): BenchConsumer {
  return {
    label: 'bare kafkajs consumer (drain only)',
    start: async (groupId, onDone) => {
      const consumer = kafka.consumer({ groupId });
      await consumer.connect();
      await consumer.subscribe({ topics, fromBeginning: true });
      await consumer.run({
        eachBatch: async ({ batch }) => {
          onDone(batch.messages.map((m) => rawRecordOf(batch.topic, batch.partition, m)));
        },
      });
      return () => consumer.disconnect();
    },
  };
}

/**
 * Runs `consumer` in a group already positioned at the end of its topics while `load` produces a
 * steady stream (resolving to how many records it wrote), until all of them are done: latency
 * from each record's `sentAtMs` to its commit, and DynamoDB requests per event.
 */
export async function measureLive(
  consumer: BenchConsumer,
  groupId: string,
  phase: string,
  sentAtMs: (record: RawRecord) => number | undefined,
  load: () => Promise<number>,
): Promise<Figures> {
  const latencies: number[] = [];
  let done = 0;
  const before = await ddbUsage();
  const stop = await consumer.start(groupId, (records) => {
    const now = Date.now();
    for (const record of records) {
      const sent = sentAtMs(record);
      if (sent !== undefined) latencies.push(now - sent);
    }
    done += records.length;
  });
  const total = await load();
  await until(`${consumer.label} to catch up with the live load`, () => done >= total);
  await stop();
  return {
    phase,
    consumer: consumer.label,
    events: done,
    ...(await ddbPerEvent(before, done)),
    ...latencyFigures(latencies),
  };
}

/** The summary row of a consumer benchmark, from the backlog rows of the worker, the naive baseline and the bare consumer. */
export function summaryOf(worker: Figures, naive: Figures, bare: Figures): Figures {
  const ratio = (a: Figures, b: Figures, digits: number) =>
    round(Number(a.events_per_s) / Number(b.events_per_s), digits);
  // The share the worker would reach if it cost no CPU itself and the stack's DynamoDB server had
  // every core: its DynamoDB CPU per event alone allows no more here (absent where not measured).
  const dynamodbCpuMsPer1k = Number(worker.dynamodb_cpu_ms_per_1k_events ?? 0);
  const ceiling: Figures =
    dynamodbCpuMsPer1k > 0
      ? {
          share_ceiling_from_dynamodb_cpu: round(
            (availableParallelism() * 1e6) / dynamodbCpuMsPer1k / Number(bare.events_per_s),
            3,
          ),
        }
      : {};
  return {
    consumer: 'summary',
    events_per_s: worker.events_per_s!,
    baseline_events_per_s: naive.events_per_s!,
    speedup: ratio(worker, naive, 2),
    share_of_bare_consumer: ratio(worker, bare, 3),
    ...ceiling,
    ddb_requests_per_event: worker.ddb_requests_per_event!,
    baseline_ddb_requests_per_event: naive.ddb_requests_per_event!,
    wcu_per_event: worker.wcu_per_event!,
    baseline_wcu_per_event: naive.wcu_per_event!,
  };
}

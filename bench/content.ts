import { contentTables } from '../workers/content/content-store.ts';
import type { Admin } from 'kafkajs';
import { topicNames } from '../schemas/topics.ts';
import { commonConfigSchema } from '../shared/config/common.ts';
import { loadConfig } from '../shared/config/load-config.ts';
import { moveGroupToEnd } from '../shared/kafka/consumer-lag.ts';
import type { RawRecord } from '../shared/kafka/records.ts';
import { writeSourceWorkload } from '../apps/synthetic/source-workload.ts';
import { contentWorkerModule } from '../workers/content/content-worker.ts';
import { type Figures } from './report.ts';
import {
  benchConnections,
  workerConsumer,
  bareConsumer,
  drainBacklog,
  until,
  type BenchConsumer,
  measureLive,
  summaryOf,
} from './drain.ts';
import { runNaiveContentConsumer } from './naive-content.ts';
import { sourceDatabasePool } from '../shared/config/source-database.ts';

/**
 * npm run bench -- content
 * 1. Throughput: a backlog of real Debezium events (rows written to PostgreSQL while no consumer
 *    runs), drained by the content worker and then by the naive consumer, each from the same
 *    starting offsets: events/s and DynamoDB requests per event.
 * 2. Latency: rows written at a steady rate while each consumer runs: PostgreSQL commit →
 *    effect durable and offset committed, percentiles.
 */
const topics = [topicNames.koos, topicNames.users];

async function totalEnd(admin: Admin): Promise<bigint> {
  let sum = 0n;
  for (const topic of topics) for (const p of await admin.fetchTopicOffsets(topic)) sum += BigInt(p.high);
  return sum;
}

function sourceTsMs(record: RawRecord): number | undefined {
  if (!record.value) return undefined;
  try {
    return (JSON.parse(record.value.toString()) as { source?: { ts_ms?: number } }).source?.ts_ms;
  } catch {
    return undefined;
  }
}

export async function benchContent(): Promise<Figures[]> {
  const koos = Number(process.env.BENCH_CONTENT_KOOS ?? 4000);
  const liveRate = Number(process.env.BENCH_CONTENT_RATE ?? 200);
  const liveSeconds = Number(process.env.BENCH_CONTENT_SECONDS ?? 10);
  const naivePrefix = 'bench_naive_';
  const { kafka, admin, dynamo } = await benchConnections(loadConfig(commonConfigSchema), [naivePrefix]);
  const db = sourceDatabasePool();
  const run = Date.now().toString(36);

  const runs: BenchConsumer[] = [
    workerConsumer('content worker', contentWorkerModule, 'CONTENT_GROUP_ID'),
    {
      label: 'naive (one request per join and write, per event)',
      start: (groupId, onDone) =>
        runNaiveContentConsumer(kafka, dynamo, contentTables(naivePrefix), groupId, topics, (r) =>
          onDone([r]),
        ),
    },
    bareConsumer(kafka, topics),
  ];

  // Phase 1: one backlog, drained by each consumer from the same offsets.
  const groups = runs.map((r, i) => `bench-content-${i}-${run}`);
  for (const g of groups) await moveGroupToEnd(kafka, admin, g, topics);
  const before = await totalEnd(admin);
  const workload = await writeSourceWorkload(db, {
    seed: Number(process.env.BENCH_SEED ?? Date.now()),
    users: Math.max(10, Math.floor(koos / 20)),
    koos,
    replyShare: 0.25,
    editShare: 0.3,
    deleteShare: 0.05,
    renameShare: 0.1,
  });
  await until(
    'Debezium to publish the backlog',
    async () => (await totalEnd(admin)) - before >= BigInt(workload.expectedRecords),
  );
  const backlog = Number((await totalEnd(admin)) - before);

  const results: Figures[] = [];
  for (const [i, r] of runs.entries()) results.push(await drainBacklog(r, groups[i]!, backlog));

  // Phase 2: steady load, latency from the source commit to the committed effect.
  for (const [i, r] of runs.slice(0, 2).entries()) {
    const groupId = `bench-content-live-${i}-${run}`;
    await moveGroupToEnd(kafka, admin, groupId, topics);
    const live = () =>
      writeSourceWorkload(db, {
        seed: Number(process.env.BENCH_SEED ?? Date.now()) + 1000 + i,
        users: 20,
        koos: liveRate * liveSeconds,
        replyShare: 0.25,
        batchSize: Math.max(1, Math.floor(liveRate / 20)), // 20 transactions a second
        ratePerSecond: liveRate,
      }).then((w) => w.expectedRecords);
    results.push(await measureLive(r, groupId, `live ${liveRate}/s`, sourceTsMs, live));
  }
  const [optimized, naive, bare] = results;
  results.push(summaryOf(optimized!, naive!, bare!));
  await admin.disconnect();
  await db.end();
  dynamo.destroy();
  return results;
}

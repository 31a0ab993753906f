import type { Kafka } from 'kafkajs';
import { topicNames } from '../schemas/topics.ts';
import { commonConfigSchema } from '../shared/config/common.ts';
import { loadConfig } from '../shared/config/load-config.ts';
import { logEnds, setGroupOffsets } from '../shared/kafka/consumer-lag.ts';
import { kafkaClientOptions } from '../shared/kafka/kafka-client.ts';
import { ReactionProducer } from '../clients/producer/reaction-producer.ts';
import { sleep } from '../shared/runtime/backoff.ts';
import { ReactionWorkload } from '../apps/synthetic/reaction-workload.ts';
import { reactionsWorkerModule } from '../workers/reactions/reactions-worker.ts';
import { seedKooItems } from './koo-items.ts';
import {
  benchConnections,
  workerConsumer,
  bareConsumer,
  drainBacklog,
  type BenchConsumer,
  measureLive,
  summaryOf,
} from './drain.ts';
import { naiveReactionsConsumer } from './naive-reactions.ts';
import { type Figures } from './report.ts';

/**
 * npm run bench -- reactions
 * 1. Throughput: one backlog of Zipf-skewed reactions (BENCH_REACTIONS events over
 *    BENCH_REACTION_KOOS koos, with toggles and duplicates), drained from the same offsets by the
 *    reactions worker, the naive one-UpdateItem-per-event consumer, and a bare kafkajs consumer
 *    that only drains the topic (the client's own limit): events/s and DynamoDB requests per event.
 * 2. Latency: reactions emitted at BENCH_REACTION_RATE/s while each consumer runs: produce (the
 *    record's timestamp) → effect durable and offset committed, percentiles.
 * The naive consumer writes to tables prefixed bench_naive_, so the real counters stay exact.
 */
const topics = [topicNames.reactions];

async function pinAt(
  kafka: Kafka,
  groupId: string,
  partitions: { partition: number; offset: string }[],
): Promise<void> {
  await setGroupOffsets(kafka, groupId, [{ topic: topicNames.reactions, partitions }]);
}

/**
 * What a reactions benchmark runs on: connections, a reaction producer, `kooCount` koos (as the
 * content worker leaves them, in the live tables and the naive consumer's) and a Zipf workload
 * over them and `usersPerKoo` users a koo.
 */
export async function reactionBench(kooCount: number, idPrefix: string, seed: number, usersPerKoo = 4) {
  const config = loadConfig(commonConfigSchema);
  const naivePrefix = 'bench_naive_';
  const { logger, kafka, admin, dynamo } = await benchConnections(config, [naivePrefix]);
  const producer = await ReactionProducer.connect(
    { ...kafkaClientOptions(config, 'koo-bench'), schemaRegistryUrl: config.SCHEMA_REGISTRY_URL },
    logger,
  );
  const run = Date.now().toString(36);
  const koos = Array.from({ length: kooCount }, (_, i) => `${idPrefix}-${run}-${i}`);
  const users = Array.from({ length: kooCount * usersPerKoo }, (_, i) => `bench-user-${i}`);
  const workload = new ReactionWorkload({ seed, koos, users });
  for (const prefix of ['', naivePrefix]) await seedKooItems(dynamo, koos, prefix);
  return { config, naivePrefix, kafka, admin, dynamo, producer, run, workload };
}

export async function benchReactions(): Promise<Figures[]> {
  const backlog = Number(process.env.BENCH_REACTIONS ?? 30_000);
  const kooCount = Number(process.env.BENCH_REACTION_KOOS ?? 5_000);
  const rate = Number(process.env.BENCH_REACTION_RATE ?? 500);
  const liveSeconds = Number(process.env.BENCH_REACTION_SECONDS ?? 10);
  const seed = Number(process.env.BENCH_SEED ?? Date.now() % 2 ** 31);
  const { config, naivePrefix, kafka, admin, dynamo, producer, run, workload } = await reactionBench(
    kooCount,
    'bench',
    seed,
  );

  const consumers: BenchConsumer[] = [
    workerConsumer('reactions worker', reactionsWorkerModule, 'REACTIONS_GROUP_ID'),
    naiveReactionsConsumer(kafka, dynamo, naivePrefix, config.SCHEMA_REGISTRY_URL),
    bareConsumer(kafka, topics),
  ];

  // Phase 1: one backlog, drained by each consumer from the same offsets.
  const start = await logEnds(admin, topicNames.reactions);
  for (let sent = 0; sent < backlog; sent += 5_000) {
    await Promise.all(workload.next(Math.min(5_000, backlog - sent)).map((e) => producer.emit(e)));
  }
  await producer.flush();
  const results: Figures[] = [];
  for (const [i, c] of consumers.entries()) {
    const groupId = `bench-reactions-${i}-${run}`;
    await pinAt(kafka, groupId, start);
    results.push(await drainBacklog(c, groupId, backlog));
  }

  // Phase 2: steady load; latency from produce to the committed effect.
  for (const [i, c] of consumers.slice(0, 2).entries()) {
    const groupId = `bench-reactions-live-${i}-${run}`;
    await pinAt(kafka, groupId, await logEnds(admin, topicNames.reactions));
    const live = async () => {
      const total = rate * liveSeconds;
      const began = Date.now();
      for (let sent = 0; sent < total; sent += rate / 20) {
        await Promise.all(workload.next(rate / 20).map((e) => producer.emit(e)));
        await sleep(began + ((sent + rate / 20) / rate) * 1000 - Date.now());
      }
      return total;
    };
    results.push(await measureLive(c, groupId, `live ${rate}/s`, (r) => Number(r.timestamp), live));
  }
  const [worker, naive, bare] = results;
  results.push(summaryOf(worker!, naive!, bare!));
  await producer.close();
  await admin.disconnect();
  dynamo.destroy();
  return results;
}

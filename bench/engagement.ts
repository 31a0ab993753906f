import { Redis } from 'ioredis';
import { tableName } from '../schemas/tables.ts';
import { topicNames } from '../schemas/topics.ts';
import { moveGroupToEnd } from '../shared/kafka/consumer-lag.ts';
import { kafkaClientOptions } from '../shared/kafka/kafka-client.ts';
import { metrics } from '../shared/metrics/metrics.ts';
import { ReactionProducer } from '../clients/producer/reaction-producer.ts';
import { Random } from '../apps/synthetic/random.ts';
import {
  decaySettingsOf,
  engagementWorkerModule,
  loadEngagementConfig,
  weightsOf,
} from '../workers/engagement/engagement-worker.ts';
import { round, type Figures } from './report.ts';
import { runNaiveEngagementConsumer } from './naive-engagement.ts';
import {
  benchConnections,
  bareConsumer,
  drainBacklog,
  summaryOf,
  workerConsumer,
  type BenchConsumer,
} from './drain.ts';
import { seedKooItems } from './koo-items.ts';

/**
 * npm run bench -- engagement
 * A backlog of reactions (BENCH_ENGAGEMENT_REACTIONS over BENCH_ENGAGEMENT_KOOS koos in 4
 * languages, popularity skewed), drained from the same offsets by the engagement worker, by a
 * naive read-modify-write consumer and by the bare consumer: events/s, DynamoDB and Redis
 * requests per event. Then the same count spread over BENCH_ENGAGEMENT_SPREAD_KOOS koos, drained
 * by the worker: few events per koo in a batch, so its writes of many koos share transactions.
 */
const total = async (counter: typeof metrics.redisRequests) =>
  (await counter.get()).values.reduce((s, v) => s + v.value, 0);

export async function benchEngagement(): Promise<Figures[]> {
  // The reactions benchmark's backlog: at 5,000 each consumer's start was most of its drain time.
  const reactions = Number(process.env.BENCH_ENGAGEMENT_REACTIONS ?? 30_000);
  const koos = Number(process.env.BENCH_ENGAGEMENT_KOOS ?? 300);
  const spreadKoos = Number(process.env.BENCH_ENGAGEMENT_SPREAD_KOOS ?? 5_000);
  const run = Date.now().toString(36);
  const keyPrefix = `bench-engagement-${run}:`;
  const config = loadEngagementConfig({ ...process.env, TRENDING_KEY_PREFIX: keyPrefix });
  const naivePrefix = 'bench_naive_';
  const { kafka, admin, dynamo } = await benchConnections(config, [naivePrefix]);
  const redis = new Redis(config.REDIS_URL);
  const random = new Random(Number(process.env.BENCH_SEED ?? Date.now()));
  const worker = workerConsumer('engagement worker', engagementWorkerModule, 'ENGAGEMENT_GROUP_ID', {
    TRENDING_KEY_PREFIX: keyPrefix,
  });
  const naive: BenchConsumer = {
    label: 'naive (read-modify-write per event)',
    start: (groupId, onDone) =>
      runNaiveEngagementConsumer(
        kafka,
        dynamo,
        redis,
        {
          table: tableName('content', naivePrefix),
          keyPrefix: `${keyPrefix}naive:`,
          groupId,
          registryUrl: config.SCHEMA_REGISTRY_URL,
          decay: decaySettingsOf(config),
          weights: weightsOf(config),
        },
        (raw) => onDone([raw]),
      ),
  };

  /** Puts a backlog over `kooCount` koos on the topic, then drains it with each of `runs` from its start. */
  const backlog = async (kooCount: number, runs: BenchConsumer[]) => {
    // Koos exist with a language in both tables (the content worker's part), then the backlog.
    const ids = Array.from({ length: kooCount }, () => random.id());
    for (const prefix of runs.includes(naive) ? ['', naivePrefix] : [''])
      await seedKooItems(dynamo, ids, prefix);
    const groups = runs.map((_, i) => `bench-engagement-${kooCount}-${i}-${run}`);
    for (const g of groups) await moveGroupToEnd(kafka, admin, g, [topicNames.reactions, topicNames.koos]);
    const producer = await ReactionProducer.connect({
      ...kafkaClientOptions(config, 'koo-bench'),
      schemaRegistryUrl: config.SCHEMA_REGISTRY_URL,
    });
    const now = Date.now();
    const types = [
      ['like', 6],
      ['unlike', 1],
      ['share', 2],
      ['rekoo', 2],
    ] as const;
    for (let i = 0; i < reactions; i += 500) {
      await Promise.all(
        Array.from({ length: Math.min(500, reactions - i) }, () =>
          producer.emit({
            // Squaring skews popularity: a few koos get most reactions, as in a real feed.
            content_id: ids[Math.floor(random.next() ** 2 * kooCount)]!,
            user_id: random.id(),
            type: random.weighted(types),
            event_time: now - random.int(3_600_000),
          }),
        ),
      );
    }
    await producer.close();
    const results: Figures[] = [];
    for (const [i, r] of runs.entries()) {
      const redisBefore = await total(metrics.redisRequests);
      const figures = await drainBacklog(r, groups[i]!, reactions);
      const redisRequests = (await total(metrics.redisRequests)) - redisBefore;
      results.push({
        ...figures,
        phase: `backlog, ${kooCount.toLocaleString('en-US')} koos`,
        redis_requests_per_event: round(redisRequests / reactions, 3),
      });
    }
    return results;
  };

  const hot = await backlog(koos, [worker, naive, bareConsumer(kafka, [topicNames.reactions])]);
  const spread = await backlog(spreadKoos, [worker]);
  const keys = await redis.keys(`${keyPrefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
  await admin.disconnect();
  dynamo.destroy();
  return [...hot, ...spread, summaryOf(hot[0]!, hot[1]!, hot[2]!)];
}

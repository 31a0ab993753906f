import { benchConnections } from './drain.ts';
import { createSchemaRegistry } from '../shared/avro/schema-registry-client.ts';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { tableName } from '../schemas/tables.ts';
import { contentAttr as A } from '../schemas/koo-content.ts';
import { reactionContract } from '../schemas/reaction.ts';
import { RegistryCodec } from '../shared/avro/registry-codec.ts';
import { commonConfigSchema } from '../shared/config/common.ts';
import { loadConfig } from '../shared/config/load-config.ts';
import { batchWrite } from '../shared/dynamodb/batch-writer.ts';
import { groupCaughtUp, moveGroupToEnd } from '../shared/kafka/consumer-lag.ts';
import { kafkaClientOptions } from '../shared/kafka/kafka-client.ts';
import { ReactionProducer } from '../clients/producer/reaction-producer.ts';
import { runWorker, workerConfigSchema, type RunningWorker } from '../shared/runtime/run-worker.ts';
import { Random, Zipf } from '../apps/synthetic/random.ts';
import { notifyTopics, notifyWorkerModule } from '../workers/notify/notify-worker.ts';
import { NotificationStore } from '../workers/notify/notification-store.ts';
import { notificationQueueConfigSchema } from '../workers/notify/notify-config.ts';
import { ProfileLookup } from '../workers/notify/profile-lookup.ts';
import { runSender } from '../workers/notify-sender/run-sender.ts';
import { NaiveNotifyWorker, naiveSender } from './naive-notify.ts';
import { latencyFigures, round, type Figures } from './report.ts';

/**
 * npm run bench -- notify
 * One backlog of likes, Zipf-distributed over koos (a few koos take most), drained by the notify
 * worker (aggregates + one job per aggregate) and by the naive producer (one job per like), each
 * with its sender and its own queue prefix: events/s into the queue (backlog / time to commit
 * it), jobs per event, and delivery latency from a job being due to its completion. The notify
 * worker's jobs are due when their window ends: the window itself is the price of aggregation.
 */
// Every topic the notify worker reads is pinned at its end, not only the reactions: a group with
// no offset on koos and follows would read them from the start (every reply ever made notifies).
const topics = notifyTopics;

interface Run {
  label: string;
  prefix: string;
  start: (groupId: string) => Promise<{ close: () => Promise<void> }>;
}

async function until(what: string, cond: () => Promise<boolean>, timeoutMs = 600_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`bench: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function benchNotify(): Promise<Figures[]> {
  const events = Number(process.env.BENCH_NOTIFY_EVENTS ?? 20_000);
  const koos = Number(process.env.BENCH_NOTIFY_KOOS ?? 2_000);
  const users = Number(process.env.BENCH_NOTIFY_USERS ?? 5_000);
  const windowMs = Number(process.env.BENCH_NOTIFY_WINDOW_MS ?? 2_000);
  const config = loadConfig(commonConfigSchema);
  const queueDefaults = loadConfig(notificationQueueConfigSchema);
  const { logger, kafka, admin, dynamo } = await benchConnections(config);
  const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: null });
  const run = Date.now().toString(36);
  const rnd = new Random(Number(process.env.BENCH_SEED ?? Date.now()));

  const kooIds = Array.from({ length: koos }, () => `bench-${rnd.id()}`);
  await batchWrite(
    dynamo,
    tableName('content', config.TABLE_PREFIX),
    kooIds.map((id) => ({ put: { [A.contentId]: id, [A.creator]: `creator-${rnd.id()}` } })),
    { keyAttributes: [A.contentId], concurrency: 8 },
  );

  const env = {
    ...process.env,
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'error',
    NOTIFY_WINDOW_MS: String(windowMs),
    NOTIFY_RATE_MAX: '1000000',
  };
  const runs: Run[] = [
    {
      label: 'notify worker (aggregated)',
      prefix: `bench-notify-${run}`,
      start: async (groupId) => {
        const e = { ...env, NOTIFY_PREFIX: `bench-notify-${run}`, NOTIFY_GROUP_ID: groupId };
        const worker = await runWorker(notifyWorkerModule, { ownProcess: false, env: e });
        const sender = await runSender({
          ownProcess: false,
          env: e,
          transport: { deliver: async () => undefined },
        });
        return { close: async () => void (await Promise.all([worker.close(), sender.close()])) };
      },
    },
    {
      label: 'naive (one job per event)',
      prefix: `bench-naive-${run}`,
      start: async (groupId) => {
        const prefix = `bench-naive-${run}`;
        const queue = new Queue('notifications', { connection: redis, prefix });
        const lookup = new ProfileLookup(
          dynamo,
          {
            content: tableName('content', config.TABLE_PREFIX),
            users: tableName('users', config.TABLE_PREFIX),
          },
          16,
        );
        const codec = new RegistryCodec(createSchemaRegistry(config.SCHEMA_REGISTRY_URL), reactionContract);
        const worker: RunningWorker = await runWorker(
          {
            name: 'naive-notify',
            loadConfig: (e) => loadConfig(workerConfigSchema, e),
            create: (workerConfig) =>
              new NaiveNotifyWorker(groupId, { codec, lookup, queue, config: workerConfig }),
          },
          { ownProcess: false, env },
        );
        const sender = naiveSender('notifications', redis, prefix, 16);
        return {
          close: async () => {
            await worker.close();
            await sender.close();
            await queue.close();
          },
        };
      },
    },
  ];

  const groups = runs.map((_, i) => `bench-notify-${i}-${run}`);
  for (const g of groups) await moveGroupToEnd(kafka, admin, g, topics);
  const producer = await ReactionProducer.connect(
    { ...kafkaClientOptions(config, 'koo-bench'), schemaRegistryUrl: config.SCHEMA_REGISTRY_URL },
    logger,
  );
  const zipf = new Zipf(koos, 1.1);
  await Promise.all(
    Array.from({ length: events }, () =>
      producer.emit({
        type: 'like',
        content_id: kooIds[zipf.rank(rnd)]!,
        user_id: `user-${rnd.int(users)}`,
        event_time: Date.now(),
      }),
    ),
  );
  await producer.close();

  const results: Figures[] = [];
  for (const [i, r] of runs.entries()) {
    const store = new NotificationStore(config.REDIS_URL, { ...queueDefaults, NOTIFY_PREFIX: r.prefix });
    const queue = store.queue;
    const started = performance.now();
    const running = await r.start(groups[i]!);
    await until(`${r.label} to commit the backlog`, () => groupCaughtUp(admin, groups[i]!, topics));
    const seconds = (performance.now() - started) / 1000;
    await until(`${r.label} to deliver every job`, async () => {
      const c = await queue.getJobCounts('waiting', 'delayed', 'active', 'prioritized');
      return Object.values(c).every((n) => n === 0);
    });
    await running.close();
    const jobs = await queue.getJobCountByTypes('completed', 'failed');
    const sample = await queue.getCompleted(0, 1999);
    const latencies = sample.map((j) => j.finishedOn! - (j.timestamp + (j.delay ?? 0)));
    results.push({
      consumer: r.label,
      events,
      events_per_s: round(events / seconds, 0),
      jobs,
      jobs_per_event: round(jobs / events, 4),
      ...latencyFigures(latencies, 'due_to_delivered_'),
    });
    await store.obliterate();
    await store.close();
  }
  await admin.disconnect();
  dynamo.destroy();
  await redis.quit();
  return results;
}

/**
 * npm run demo [-- --koos N --users N --seed S --replicas N]
 * The main job on the local stack: content worker replicas as separate processes (as ops run
 * them), a synthetic producer writing app-like rows into PostgreSQL (Debezium carries them to
 * Kafka), then what came out in DynamoDB, read through the query functions.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';
import { Command } from 'commander';
import { SingleBar, Presets } from 'cli-progress';
import pg from 'pg';
import { tableName } from '../../infra/tables.ts';
import { topicNames } from '../../infra/topics.ts';
import { contentConfigSchema } from '../../workers/content/content-worker.ts';
import { ContentQueries } from '../../workers/content/queries.ts';
import { loadConfig } from '../config/load-config.ts';
import { Dynamo } from '../dynamodb/dynamo-client.ts';
import { consumerGroupLag } from '../kafka/consumer-lag.ts';
import { createKafka } from '../kafka/kafka-client.ts';
import { createLogger } from '../logging/logger.ts';
import { writeSourceWorkload } from '../synthetic/source-workload.ts';

const root = resolve(import.meta.dirname, '../..');
const int = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`expected a whole number above 0, got ${v}`);
  return n;
};
const options = new Command('demo')
  .option('--koos <n>', 'koos to write', int, 2000)
  .option('--users <n>', 'users to write', int, 200)
  .option('--seed <n>', 'seed of the synthetic workload (default: time)', int)
  .option('--replicas <n>', 'content worker replicas', int, 2)
  .parse()
  .opts<{ koos: number; users: number; seed?: number; replicas: number }>();

const config = loadConfig(contentConfigSchema);
const logger = createLogger('demo', 'error');
const admin = createKafka({ brokers: config.KAFKA_BROKERS, clientId: 'koo-demo' }, logger).admin();
const db = new pg.Pool({
  connectionString: process.env.PG_URL ?? 'postgres://koo@127.0.0.1:5432/koo',
  max: 4,
});
const dynamo = new Dynamo({ region: config.AWS_REGION, endpoint: config.DYNAMODB_ENDPOINT });
const queries = new ContentQueries(dynamo, {
  contentTable: tableName('content', config.TABLE_PREFIX),
  mediaBucket: config.MEDIA_BUCKET,
});
const topics = [topicNames.koos, topicNames.users];

function startReplica(n: number): ChildProcess {
  const child = spawn(process.execPath, [resolve(root, 'workers/content/main.ts')], {
    cwd: root,
    env: { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  console.log(`content worker replica ${n} started (pid ${child.pid}, group ${config.CONTENT_GROUP_ID})`);
  return child;
}

await admin.connect();
const replicas = Array.from({ length: options.replicas }, (_, i) => startReplica(i + 1));
try {
  const seed = options.seed ?? Date.now() % 1_000_000_000;
  console.log(`\nwriting ${options.users} users and ${options.koos} koos into PostgreSQL (seed ${seed})`);
  const bar = new SingleBar({ format: 'koos {bar} {value}/{total} ({eta}s left)' }, Presets.shades_classic);
  bar.start(options.koos, 0);
  const started = Date.now();
  const workload = await writeSourceWorkload(db, {
    seed,
    users: options.users,
    koos: options.koos,
    replyShare: 0.25,
    editShare: 0.1,
    deleteShare: 0.02,
    renameShare: 0.05,
    onProgress: (done) => bar.update(done),
  });
  bar.stop();

  console.log('waiting for Debezium and the content workers (lag = change events not yet applied)');
  const lagBar = new SingleBar({ format: 'lag {value} events' }, Presets.shades_classic);
  lagBar.start(1, 0);
  const deadline = Date.now() + 600_000;
  for (;;) {
    const ids = workload.kooIds.filter((id) => !workload.deleted.includes(id));
    const last = await queries.getKoo(ids[ids.length - 1]!);
    const lag = (await consumerGroupLag(admin, config.CONTENT_GROUP_ID, topics)).reduce(
      (s, p) => s + Number(p.lag),
      0,
    );
    lagBar.update(lag);
    if (last && lag === 0) break;
    if (Date.now() > deadline) throw new Error('the workers did not catch up within 10 minutes');
    await new Promise((r) => setTimeout(r, 500));
  }
  lagBar.stop();
  console.log(
    `all ${workload.expectedRecords} change events applied ${((Date.now() - started) / 1000).toFixed(1)} s after the first insert\n`,
  );

  const [topLang] = [...workload.languages.entries()].sort((a, b) => b[1] - a[1]);
  console.log(
    `koos written per language: ${[...workload.languages.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([l, n]) => `${l} ${n}`)
      .join(', ')}`,
  );
  const newest = await queries.koosByLang(topLang![0], 3);
  console.log(`\nkoo query by-lang ${topLang![0]} --limit 3 (newest first):`);
  console.log(
    JSON.stringify(
      newest.items.map((k) => ({
        contentId: k.contentId,
        creatorHandle: k.creatorHandle,
        body: k.body,
        createdAt: k.createdAt,
      })),
      null,
      2,
    ),
  );

  const reply = await (async () => {
    for (const id of [...workload.kooIds].reverse()) {
      const thread = await queries.getThread(id);
      if (thread?.superParent && thread.parent && thread.parent.contentId !== thread.superParent.contentId)
        return thread;
    }
    return undefined;
  })();
  if (reply) {
    console.log(`\nkoo query thread ${reply.koo.contentId} (a reply to a reply, with its thread root):`);
    console.log(
      JSON.stringify(
        { koo: reply.koo, parent: reply.parent?.contentId, superParent: reply.superParent?.contentId },
        null,
        2,
      ),
    );
    const byCreator = await queries.koosByCreator(reply.koo.creatorId, 3);
    console.log(
      `\nkoo query by-creator ${reply.koo.creatorId} --limit 3: ${byCreator.items.map((k) => k.contentId).join(', ')}`,
    );
  }
  const deleted = workload.deleted[0];
  if (deleted)
    console.log(
      `\nkoo query koo ${deleted} (deleted in PostgreSQL): ${JSON.stringify(await queries.getKoo(deleted))}`,
    );
} finally {
  const stopping = Date.now();
  for (const r of replicas) r.kill('SIGTERM');
  await Promise.all(replicas.map((r) => (r.exitCode === null ? once(r, 'exit') : undefined)));
  console.log(`\nstopped ${replicas.length} replicas with SIGTERM in ${Date.now() - stopping} ms`);
  await admin.disconnect();
  await db.end();
  dynamo.destroy();
}

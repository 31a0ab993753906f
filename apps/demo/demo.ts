/**
 * npm run demo [-- --koos N --users N --reactions N --seed S --replicas N]
 * The main job on the local stack: every worker as replicas under the supervisor (as `npm start`
 * runs them), a synthetic producer writing app-like rows into PostgreSQL (Debezium carries them
 * to Kafka) and reaction events through the producer module, then what came out, read with the
 * same `koo` commands a user would type.
 */
import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { Command } from 'commander';
import { Presets, SingleBar } from 'cli-progress';
import { tableName } from '../../schemas/tables.ts';
import { catalog } from '../../workers/catalog.ts';
import { bodyStoreFor } from '../../workers/content/body-store.ts';
import { ContentQueries } from '../../workers/content/queries.ts';
import type { Notification } from '../../workers/notify/message.ts';
import { commonConfigSchema } from '../../shared/config/common.ts';
import { loadConfig } from '../../shared/config/load-config.ts';
import { dynamoFor } from '../../shared/dynamodb/dynamo-client.ts';
import { consumerGroupLag, moveGroupToEnd } from '../../shared/kafka/consumer-lag.ts';
import { createKafka, kafkaClientOptions } from '../../shared/kafka/kafka-client.ts';
import { createLogger } from '../../shared/logging/logger.ts';
import { ReactionProducer } from '../../clients/producer/reaction-producer.ts';
import { Supervisor } from '../supervisor/supervisor.ts';
import { ReactionWorkload } from '../synthetic/reaction-workload.ts';
import { writeSourceWorkload } from '../synthetic/source-workload.ts';
import { sourceDatabasePool } from '../../shared/config/source-database.ts';

const root = resolve(import.meta.dirname, '../..');
const int = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`expected a whole number above 0, got ${v}`);
  return n;
};
const options = new Command('demo')
  .option('--koos <n>', 'koos to write', int, 2000)
  .option('--users <n>', 'users to write', int, 200)
  .option('--reactions <n>', 'reaction events to send', int, 5000)
  .option('--seed <n>', 'seed of the synthetic workload (default: time)', int)
  .option('--replicas <n>', 'replicas of every worker', int, 1)
  .parse()
  .opts<{ koos: number; users: number; reactions: number; seed?: number; replicas: number }>();

// Progress bars also print (every 10 s) when the output is not a terminal (CI logs, pipes).
const withoutTerminal = { noTTYOutput: true, notTTYSchedule: 10_000 };
const config = loadConfig(commonConfigSchema);
const logger = createLogger('demo', 'error');
const kafka = createKafka(kafkaClientOptions(config, 'koo-demo'), logger);
const admin = kafka.admin();
const db = sourceDatabasePool();
const dynamo = dynamoFor(config, 5_000);
const bodies = bodyStoreFor(config);
const content = new ContentQueries(dynamo, {
  contentTable: tableName('content', config.TABLE_PREFIX),
  mediaBucket: 'koo-media',
  bodies,
});
// The run's own consumer groups, starting at the end of the topics: the workers process exactly
// what this run produces, however much history the topics hold. Deleted at the end.
const runId = Date.now().toString(36);
const consumers = catalog.filter((e) => e.group);
const groupOf = (worker: string) => `koo-demo-${runId}-${worker}`;
const groupVariables = Object.fromEntries(consumers.map((e) => [e.group!.variable, groupOf(e.name)]));

const koo = async (...args: string[]) => {
  console.log(`\n$ npm run koo -- ${args.join(' ')}`);
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [resolve(root, 'apps/cli/koo.ts'), ...args],
    {
      cwd: root,
      env: { ...process.env, ...groupVariables, LOG_LEVEL: 'error' },
    },
  );
  console.log(stdout.trimEnd());
};

// Where notify-sender delivers: a receiver counting notifications, as the push service would.
const delivered: Notification[] = [];
const receiver = createServer((req, res) => {
  let body = '';
  req.on('data', (d: Buffer) => (body += d.toString()));
  req.on('end', () => {
    delivered.push(JSON.parse(body) as Notification);
    res.writeHead(200).end();
  });
});
await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));

const supervisor = new Supervisor({
  env: {
    ...process.env,
    ...groupVariables,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    NOTIFY_WEBHOOK_URL: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/notifications`,
    NOTIFY_WINDOW_MS: '5000',
    // The lake shows an open segment after 10 s instead of 5 minutes, and closes segments (into
    // its Iceberg tables) every 100 offsets of a partition instead of 100,000.
    LAKE_ROTATE_AGE_MS: '10000',
    LAKE_ROTATE_ROWS: '100',
  },
  httpPortBase: 0,
  // Errors only: the warnings of a healthy run (rebalances) would bury the result.
  onLine: (r, line) => {
    if (/"level":(50|60)/.test(line)) console.error(`${r.worker}-${r.slot} | ${line}`);
  },
  onEvent: (r, event) => console.log(`${r.worker}-${r.slot}: ${event}`),
});

process.once('SIGINT', () => void supervisor.close().then(() => process.exit(130)));
process.once('SIGTERM', () => void supervisor.close().then(() => process.exit(143)));

await admin.connect();
for (const e of consumers) await moveGroupToEnd(kafka, admin, groupOf(e.name), e.group!.topics);
try {
  for (const entry of catalog) await supervisor.scale(entry.name, options.replicas);
  const seed = options.seed ?? Date.now() % 1_000_000_000;
  console.log(
    `\nwriting ${options.users} users, their follows and ${options.koos} koos into PostgreSQL (seed ${seed})`,
  );
  const bar = new SingleBar(
    { format: '{what} {bar} {value}/{total}', ...withoutTerminal },
    Presets.shades_classic,
  );
  bar.start(options.koos, 0, { what: 'koos' });
  const started = Date.now();
  const workload = await writeSourceWorkload(db, {
    seed,
    users: options.users,
    koos: options.koos,
    followsPerUser: 8,
    eminentShare: 0.01,
    replyShare: 0.25,
    editShare: 0.1,
    deleteShare: 0.02,
    renameShare: 0.05,
    // The last two hours of a language's traffic, so listings show distinct, checkable times.
    createdOverMs: 2 * 3_600_000,
    onProgress: (done) => bar.update(done),
  });
  bar.stop();

  const live = workload.kooIds.filter((id) => !workload.deleted.includes(id));
  console.log(
    `sending ${options.reactions} reaction events (likes, unlikes, shares, rekoos; Avro, schema registry)`,
  );
  const producer = await ReactionProducer.connect(
    { ...kafkaClientOptions(config, 'koo-demo'), schemaRegistryUrl: config.SCHEMA_REGISTRY_URL },
    logger,
  );
  const reactions = new ReactionWorkload({ seed, koos: live, users: workload.userIds });
  bar.start(options.reactions, 0, { what: 'reactions' });
  for (let sent = 0; sent < options.reactions; sent += 500) {
    await Promise.all(reactions.next(Math.min(500, options.reactions - sent)).map((e) => producer.emit(e)));
    bar.update(Math.min(options.reactions, sent + 500));
  }
  await Promise.all(reactions.drain().map((e) => producer.emit(e)));
  await producer.close();
  bar.stop();

  // The lake commits a partition only when the log closes its segment, so its lag is not waited for.
  const groups = consumers.filter((e) => e.name !== 'lake');
  console.log(
    `waiting for the workers (lag = events not yet applied, over ${groups.length} consumer groups)`,
  );
  const lagBar = new SingleBar({ format: 'lag {value} events', ...withoutTerminal }, Presets.shades_classic);
  lagBar.start(1, 0);
  const deadline = Date.now() + 900_000;
  for (;;) {
    let lag = 0;
    for (const e of groups) {
      const partitions = await consumerGroupLag(admin, groupOf(e.name), e.group!.topics);
      lag += partitions.reduce((s, p) => s + Number(p.lag), 0);
    }
    lagBar.update(lag);
    if (lag === 0 && (await content.getKoo(live[live.length - 1]!))) break;
    if (Date.now() > deadline) throw new Error('the workers did not catch up within 15 minutes');
    await new Promise((r) => setTimeout(r, 1000));
  }
  lagBar.stop();
  console.log(
    `all ${workload.expectedRecords} change events and ${options.reactions} reactions applied ${((Date.now() - started) / 1000).toFixed(1)} s after the first insert`,
  );

  await koo('status');
  const [topLang] = [...workload.languages.entries()].sort((a, b) => b[1] - a[1]);
  await koo('query', 'by-lang', topLang![0], '--limit', '2');
  const reply = await (async () => {
    for (const id of [...live].reverse()) {
      const thread = await content.getThread(id);
      if (thread?.superParent && thread.parent && thread.parent.contentId !== thread.superParent.contentId)
        return thread;
    }
    return undefined;
  })();
  if (reply) await koo('query', 'thread', reply.koo.contentId);
  const popular = live[0]!; // the workload's most popular koo (Zipf rank 1)
  await koo('query', 'counts', popular);
  await koo('query', 'score', popular);
  await koo('query', 'trending', topLang![0], '--limit', '3');
  await koo('query', 'feed', workload.userIds[workload.userIds.length - 1]!, '--limit', '3');

  // Notifications are aggregated per window (5 s here) before they are sent.
  const notifyDeadline = Date.now() + 60_000;
  while (delivered.length === 0 && Date.now() < notifyDeadline) await new Promise((r) => setTimeout(r, 500));
  await new Promise((r) => setTimeout(r, 6_000)); // one more window, so the count is not of the first few
  const byKind = new Map<string, number>();
  for (const n of delivered) byKind.set(n.kind, (byKind.get(n.kind) ?? 0) + 1);
  console.log(
    `\nnotifications delivered to the push receiver so far: ${[...byKind].map(([k, n]) => `${k} ${n}`).join(', ') || 'none yet'}`,
  );
  const example = delivered.find((n) => n.count > 1) ?? delivered[0];
  if (example) console.log(JSON.stringify(example, null, 2));
  await koo('lake', 'ls');
} finally {
  const stopping = Date.now();
  const count = supervisor.replicas().length;
  await supervisor.close();
  console.log(`\nstopped ${count} replicas with SIGTERM in ${Date.now() - stopping} ms`);
  await admin.deleteGroups(consumers.map((e) => groupOf(e.name))).catch(() => undefined);
  await admin.disconnect();
  await db.end();
  dynamo.destroy();
  bodies.destroy();
  receiver.close();
}

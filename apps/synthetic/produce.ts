/**
 * npm run produce [-- --users N --koos N --follows N --reactions N --seed S --rate R]
 * Synthetic load that behaves like the app: users (power-law follower counts, eminent profiles),
 * koos and replies in 20+ languages written to PostgreSQL (Debezium carries them to Kafka), then
 * reactions to those koos through the reaction producer (Zipf popularity, like/unlike toggles,
 * redelivered duplicates). The same seed gives the same load; it prints the counters to expect.
 */
import { kafkaClientOptions } from '../../shared/kafka/kafka-client.ts';
import { Command, InvalidArgumentError } from 'commander';
import { MultiBar, Presets } from 'cli-progress';
import { commonConfigSchema } from '../../shared/config/common.ts';
import { loadConfig } from '../../shared/config/load-config.ts';
import { createLogger } from '../../shared/logging/logger.ts';
import { ReactionProducer } from '../../clients/producer/reaction-producer.ts';
import { sleep } from '../../shared/runtime/backoff.ts';
import { ReactionWorkload } from './reaction-workload.ts';
import { writeSourceWorkload } from './source-workload.ts';
import { sourceDatabasePool } from '../../shared/config/source-database.ts';

const count = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number, 0 or more');
  return n;
};
const options = new Command('produce')
  .option('--users <n>', 'users to create', count, 2_000)
  .option('--koos <n>', 'koos (and replies) to create', count, 10_000)
  .option('--follows <n>', 'accounts each user follows on average', count, 20)
  .option('--reactions <n>', 'reaction events to send, duplicates included', count, 100_000)
  .option('--seed <n>', 'seed of the workload (default: time)', count)
  .option('--rate <n>', 'reactions per second (default: as fast as Kafka takes them)', count)
  .parse()
  .opts<{ users: number; koos: number; follows: number; reactions: number; seed?: number; rate?: number }>();

const seed = options.seed ?? Date.now() % 2 ** 31;
const config = loadConfig(commonConfigSchema);
const logger = createLogger('produce', 'warn');
const bars = new MultiBar(
  { format: '{phase} [{bar}] {value}/{total} {percentage}% {eta_formatted}', hideCursor: true },
  Presets.shades_classic,
);

const db = sourceDatabasePool();
const kooBar = bars.create(options.koos, 0, { phase: 'koos     ' });
const { kooIds: koos, userIds: users } = await writeSourceWorkload(db, {
  seed,
  users: Math.max(1, options.users),
  koos: Math.max(1, options.koos),
  followsPerUser: options.follows,
  replyShare: 0.2,
  onProgress: (done) => kooBar.update(done),
});
await db.end();

const producer = await ReactionProducer.connect(
  { ...kafkaClientOptions(config, 'koo-synthetic'), schemaRegistryUrl: config.SCHEMA_REGISTRY_URL },
  logger,
);
const workload = new ReactionWorkload({ seed: seed + 1, koos, users });
const bar = bars.create(options.reactions, 0, { phase: 'reactions' });
const started = Date.now();
const chunk = 1_000;
for (let sent = 0; sent < options.reactions;) {
  const events = workload.next(Math.min(chunk, options.reactions - sent));
  await Promise.all(events.map((e) => producer.emit(e)));
  sent += events.length;
  bar.update(sent);
  if (options.rate) await sleep(started + (sent / options.rate) * 1000 - Date.now());
}
await producer.close();
bars.stop();

const expected = [...workload.expectedCounts().entries()];
const total = (k: 'likes' | 'shares' | 'rekoos') => expected.reduce((s, [, c]) => s + c[k], 0);
console.log(
  JSON.stringify(
    {
      seed,
      users: users.length,
      koos: koos.length,
      reactions: options.reactions,
      duplicates: workload.duplicatesSent,
      koosReactedTo: expected.length,
      expected: { likes: total('likes'), shares: total('shares'), rekoos: total('rekoos') },
      top: expected
        .sort(([, a], [, b]) => b.likes - a.likes)
        .slice(0, 5)
        .map(([contentId, c]) => ({ contentId, ...c })),
    },
    null,
    2,
  ),
);

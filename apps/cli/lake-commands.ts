import type { Command } from 'commander';
import type { Admin } from 'kafkajs';
import { compactHour } from '../../workers/lake/compaction.ts';
import type { TableSnapshot } from '../../workers/lake/iceberg/lake-tables.ts';
import { hourPrefix, hourStartMs } from '../../workers/lake/layout.ts';
import { listLakeObjects, summarizeHours } from '../../workers/lake/lake-listing.ts';
import { lakeColumns } from '../../workers/lake/lake-rows.ts';
import {
  createLakeStore,
  createLakeTables,
  lakeConfigSchema,
  type LakeConfig,
} from '../../workers/lake/lake-worker.ts';
import { loadConfig } from '../../shared/config/load-config.ts';
import { committedByPartition, consumerGroupLag } from '../../shared/kafka/consumer-lag.ts';
import { createKafka, kafkaClientOptions } from '../../shared/kafka/kafka-client.ts';
import { createLogger } from '../../shared/logging/logger.ts';
import { formatTable } from './print-table.ts';

const dtOption = (v: string) => {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(v) || Number.isNaN(Date.parse(`${v}T00:00:00Z`)))
    throw new Error(`dt must be a date as YYYY-MM-DD, not ${v}`);
  return v;
};
const hrOption = (v: string) => {
  if (!/^\d{2}$/.test(v) || Number(v) > 23) throw new Error(`hr must be an hour from 00 to 23, not ${v}`);
  return v;
};

const positiveNumber = (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`must be a number of at least 0, not ${v}`);
  return n;
};

function print(rows: readonly object[], json: boolean): void {
  console.log(json ? JSON.stringify(rows, null, 2) : formatTable(rows));
}

/** Runs `use` with an admin client of the lake's cluster. */
async function withAdmin<T>(config: LakeConfig, use: (admin: Admin) => Promise<T>): Promise<T> {
  const logger = createLogger('koo-lake', 'warn');
  const admin = createKafka(kafkaClientOptions(config, `${config.KAFKA_CLIENT_ID}-lake-cli`), logger).admin();
  await admin.connect();
  try {
    return await use(admin);
  } finally {
    await admin.disconnect();
  }
}

/**
 * Per partition, the records past the lake group's committed offset: held in an open segment
 * (whose objects may already be listed, uploaded early), or not read yet. They are in Kafka, not
 * lost; they reach the lake when their segment closes (LAKE_ROTATE_* limits).
 */
function uncommittedRecords(config: LakeConfig, topics: string[]) {
  return withAdmin(config, async (admin) =>
    (await consumerGroupLag(admin, config.LAKE_GROUP_ID, topics))
      .filter((p) => p.lag > 0n)
      .map((p) => ({
        topic: p.topic,
        partition: p.partition,
        committed: p.committed,
        end: p.end,
        uncommitted: p.lag,
      })),
  );
}

/** `koo lake ls|compact`: what the Parquet lake holds, and compaction of a closed hour. */
export function addLakeCommands(program: Command): void {
  const lake = program
    .command('lake')
    .description(
      'the Parquet lake on S3 (LAKE_BUCKET, LAKE_PREFIX) and its Iceberg tables (LAKE_CATALOG_URL)',
    );
  lake
    .command('ls')
    .description(
      "objects and rows (from Parquet footers) per topic and event hour, the Iceberg tables' snapshots, " +
        'and the records per partition not yet committed',
    )
    .option('--topic <topic>', 'one topic (default: LAKE_TOPICS)')
    .option('--dt <date>', 'one day, YYYY-MM-DD', dtOption)
    .option('--json', 'print JSON instead of a table')
    .action(async (o: { topic?: string; dt?: string; json?: boolean }) => {
      const config = loadConfig(lakeConfigSchema);
      const store = createLakeStore(config);
      const tables = createLakeTables(config, store);
      try {
        const objects = [];
        const snapshots: TableSnapshot[] = [];
        const topics = o.topic ? [o.topic] : config.LAKE_TOPICS;
        for (const topic of topics) {
          const keyPrefix = `${config.LAKE_PREFIX}${topic}/${o.dt ? `dt=${o.dt}/` : ''}`;
          objects.push(...(await listLakeObjects(store, config.LAKE_PREFIX, keyPrefix)));
          snapshots.push(...((await tables?.snapshots(topic)) ?? []));
        }
        const hours = summarizeHours(objects);
        const open = await uncommittedRecords(config, topics);
        if (o.json) {
          console.log(
            JSON.stringify(
              { hours, uncommitted: open, snapshots },
              (_, v) => (typeof v === 'bigint' ? Number(v) : v),
              2,
            ),
          );
          return;
        }
        console.log(formatTable(hours));
        if (snapshots.length > 0) {
          // The newest few per table: `--json` lists them all (snapshot ids for AS OF queries).
          const newest = [...Map.groupBy(snapshots, (s) => s.table).values()].flatMap((list) =>
            list.slice(-5),
          );
          console.log(
            `\nIceberg tables in catalog ${config.LAKE_CATALOG_NAME} (newest snapshots):\n${formatTable(newest)}`,
          );
        } else if (tables) {
          console.log(
            `\nIceberg tables in catalog ${config.LAKE_CATALOG_NAME}: no snapshot yet (a segment is added when the log closes it)`,
          );
        }
        const total = open.reduce((n, p) => n + p.uncommitted, 0n);
        console.log(
          total === 0n
            ? `\nthe lake group ${config.LAKE_GROUP_ID} has committed every record of ${topics.join(', ')}`
            : `\n${total} records not yet committed to the lake by ${config.LAKE_GROUP_ID} (open segments; they close by LAKE_ROTATE_ROWS/BYTES/AGE_MS):\n${formatTable(open)}`,
        );
      } finally {
        await tables?.close();
        store.destroy();
      }
    });
  lake
    .command('compact <topic> <dt> <hr>')
    .description(
      "merge an hour's objects per Kafka partition into one, exactly once: only objects the lake " +
        'group has committed; safe to run again (a re-run finishes an interrupted one)',
    )
    .option('--json', 'print JSON instead of a table')
    .action(async (topic: string, dtArg: string, hrArg: string, o: { json?: boolean }) => {
      const dt = dtOption(dtArg);
      const hr = hrOption(hrArg);
      if (hourStartMs({ dt, hr }) + 3_600_000 > Date.now())
        throw new Error(`${dt} ${hr}:00 is not over yet: compact hours that have ended`);
      const config = loadConfig(lakeConfigSchema);
      const columns = lakeColumns(topic);
      // Only objects below the lake group's committed offsets are final.
      const committed = await withAdmin(config, (admin) =>
        committedByPartition(admin, config.LAKE_GROUP_ID, topic),
      );
      const store = createLakeStore(config);
      const tables = createLakeTables(config, store);
      try {
        const results = await compactHour(
          store,
          { prefix: config.LAKE_PREFIX, topic, dt, hr, committed, columns },
          tables,
        );
        if (results.length === 0)
          console.error(`nothing to compact below ${hourPrefix(config.LAKE_PREFIX, topic, { dt, hr })}`);
        print(
          results.map((r) => ({
            partition: r.partition,
            key: r.key,
            merged: r.merged,
            rows: r.rows,
            deleted: r.deleted.length,
            note: r.unchanged ? 'unchanged' : '',
          })),
          o.json ?? false,
        );
      } finally {
        await tables?.close();
        store.destroy();
      }
    });
  lake
    .command('expire')
    .description(
      "expire the Iceberg tables' snapshots older than --older-than-hours (the current one stays), " +
        'then delete the metadata files nothing refers to any more (older than --grace-minutes)',
    )
    .option('--topic <topic>', 'one topic (default: LAKE_TOPICS)')
    .option('--older-than-hours <n>', 'keep the snapshots of the last n hours', positiveNumber, 168)
    .option('--grace-minutes <n>', 'leave younger files: they may be a commit in flight', positiveNumber, 60)
    .option('--json', 'print JSON instead of a table')
    .action(async (o: { topic?: string; olderThanHours: number; graceMinutes: number; json?: boolean }) => {
      const config = loadConfig(lakeConfigSchema);
      const store = createLakeStore(config);
      const tables = createLakeTables(config, store);
      if (!tables) throw new Error('LAKE_CATALOG_URL is empty: there are no Iceberg tables to expire');
      try {
        const rows = [];
        for (const topic of o.topic ? [o.topic] : config.LAKE_TOPICS) {
          const removed = await tables.expire(
            topic,
            Date.now() - o.olderThanHours * 3_600_000,
            o.graceMinutes * 60_000,
          );
          rows.push({ topic, expired_snapshots: removed.snapshots, deleted_files: removed.files });
        }
        print(rows, o.json ?? false);
      } finally {
        await tables.close();
        store.destroy();
      }
    });
}

import type { Command } from 'commander';
import { catalog, catalogEntry, groupIdOf } from '../../workers/catalog.ts';
import { notificationQueueConfigSchema } from '../../workers/notify/notify-config.ts';
import { commonConfigSchema } from '../../shared/config/common.ts';
import { loadConfig } from '../../shared/config/load-config.ts';
import { backfill } from '../ops/backfill.ts';
import { listDlq, redriveDlq } from '../ops/dlq.ts';
import {
  dlqJson,
  dlqRows,
  redriveCounts,
  redriveProblem,
  dlqPosition,
  type DlqFilter,
} from '../ops/dlq-records.ts';
import { parseInstant } from '../ops/instant.ts';
import { opsKafka, withAdmin } from '../ops/kafka-ops.ts';
import { progressOnStderr, type Progress } from '../ops/progress.ts';
import { replayGroup } from '../ops/replay.ts';
import { describeTarget, replayRows, replayTargetOf } from '../ops/replay-plan.ts';
import { collectStatus, notificationQueueProbe } from '../ops/status.ts';
import { formatStatus, statusJson } from '../ops/status-report.ts';
import { sleep } from '../../shared/runtime/backoff.ts';
import { formatTable } from './print-table.ts';
import { sourceDatabaseConfigSchema } from '../../shared/config/source-database.ts';

const wholeNumber = (option: string, min: number) => (v: string) => {
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min)
    throw new Error(`${option} must be a whole number from ${min}, not ${v}`);
  return n;
};

/** Aborted by Ctrl-C, so a command stops cleanly (closes its clients) instead of dying mid-way. */
function interruption(): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once('SIGINT', onSigint);
  return { signal: controller.signal, dispose: () => process.off('SIGINT', onSigint) };
}

function statusCommand(program: Command): void {
  program
    .command('status')
    .summary('consumer groups and their lag, DLQ depth, notification queue, replication slot')
    .description(
      "every worker's consumer group (state, members, total lag), lag per partition, DLQ depth and " +
        "the notification queue by job state, WAL retained by Debezium's replication slot; group ids come " +
        "from the workers' *_GROUP_ID variables",
    )
    .option('--json', 'print one JSON object (with every partition); with --watch, one line per refresh')
    .option('--all', 'list every partition, not only those that lag')
    .option('--watch <seconds>', 'refresh every N seconds until Ctrl-C', wholeNumber('--watch', 1))
    .action(async (o: { json?: boolean; all?: boolean; watch?: number }) => {
      const config = loadConfig(
        commonConfigSchema
          .safeExtend(notificationQueueConfigSchema.shape)
          .safeExtend(sourceDatabaseConfigSchema.shape),
      );
      const queue = notificationQueueProbe(config.REDIS_URL, config);
      const stop = interruption();
      try {
        await withAdmin(opsKafka(config), async (admin) => {
          do {
            const report = await collectStatus({
              admin,
              entries: catalog,
              environment: process.env,
              dlqTopic: config.DLQ_TOPIC,
              queue,
              source: { dbUrl: config.PG_URL, slot: config.DEBEZIUM_SLOT },
            });
            if (o.json) console.log(JSON.stringify(statusJson(report), null, o.watch ? undefined : 2));
            else {
              if (o.watch && process.stdout.isTTY) process.stdout.write('\x1b[2J\x1b[H');
              console.log(formatStatus(report, { all: o.all ?? false }));
            }
            if (o.watch) await sleep(o.watch * 1000, stop.signal);
          } while (o.watch && !stop.signal.aborted);
        });
      } finally {
        stop.dispose();
        await queue.close();
      }
    });
}

function replayCommand(program: Command): void {
  program
    .command('replay <worker>')
    .summary("move a stopped worker's group to a time or to offsets")
    .description(
      "move a stopped worker's consumer group to the offsets of a time, or to explicit offsets, and " +
        'print the offsets before and after per partition. Refuses (exit code 1) while the group has ' +
        'members: scale the worker to 0 first, then start it again to process from there',
    )
    .option('--to-time <time>', 'ISO time with a zone, or epoch ms: the first record at or after it')
    .option('--to-offset <offset>', 'earliest, latest, or an offset (then give --topic/--partition)')
    .option('--topic <topic>', 'only this topic of the group')
    .option('--partition <p>', 'only this partition', wholeNumber('--partition', 0))
    .option('--dry-run', 'print the plan, change nothing')
    .action(
      async (
        worker: string,
        o: { toTime?: string; toOffset?: string; topic?: string; partition?: number; dryRun?: boolean },
      ) => {
        const entry = catalogEntry(worker);
        if (!entry.group) throw new Error(`${worker} reads no Kafka topic: there is nothing to replay`);
        const target = replayTargetOf(o);
        const groupId = groupIdOf(entry)!;
        const config = loadConfig(commonConfigSchema);
        const kafka = opsKafka(config);
        const steps = await withAdmin(kafka, (admin) =>
          replayGroup(
            { kafka, admin },
            {
              groupId,
              groupTopics: entry.group!.topics,
              target,
              topic: o.topic,
              partition: o.partition,
              dryRun: o.dryRun,
            },
          ),
        );
        console.log(`group ${groupId} (${worker}) to ${describeTarget(target)}`);
        console.log(formatTable(replayRows(steps)));
        console.log(
          o.dryRun
            ? 'dry run: no offset changed'
            : `committed ${steps.length} partition offset(s); the worker resumes from them when started`,
        );
      },
    );
}

interface DlqOptions {
  worker?: string;
  code?: string;
  topic?: string;
  since?: number;
  limit?: number;
}

const withDlqFilters = (command: Command) =>
  command
    .option('--worker <worker>', 'dead letters of this worker (koo-worker header)')
    .option('--code <code>', 'with this error code (VALIDATION_FAILED, DECODE_FAILED, …)')
    .option('--topic <topic>', 'from this source topic')
    .option('--since <time>', 'failed at or after (ISO time with a zone, or epoch ms)', (v) =>
      parseInstant(v, '--since'),
    )
    .option('--limit <n>', 'at most n, the oldest failures first', wholeNumber('--limit', 1));

async function readDeadLetters(o: DlqOptions) {
  const config = loadConfig(commonConfigSchema);
  const kafka = opsKafka(config);
  const filter: DlqFilter = { worker: o.worker, code: o.code, topic: o.topic, since: o.since };
  const entries = await withAdmin(kafka, (admin) => listDlq(kafka, admin, config.DLQ_TOPIC, filter, o.limit));
  return { kafka, entries, dlqTopic: config.DLQ_TOPIC };
}

function dlqCommands(program: Command): void {
  const dlq = program
    .command('dlq')
    .description('dead letters on DLQ_TOPIC: what failed and why, and putting them back once fixed');
  withDlqFilters(
    dlq
      .command('list')
      .description('read the DLQ from its start to its current end and list the dead letters that match'),
  )
    .option('--json', 'print JSON: every header, key and value (text, or base64 if binary)')
    .action(async (o: DlqOptions & { json?: boolean }) => {
      const { entries, dlqTopic } = await readDeadLetters(o);
      if (o.json) console.log(JSON.stringify(entries.map(dlqJson), null, 2));
      else
        console.log(
          entries.length > 0 ? formatTable(dlqRows(entries)) : `no dead letters in ${dlqTopic} match`,
        );
    });
  withDlqFilters(
    dlq
      .command('redrive')
      .description(
        'put the matching dead letters back on their source topics (key, value and original headers) ' +
          'for the worker that failed them only: they carry koo-redrive-for: <worker>, which every ' +
          'other worker skips, and koo-redriven-from: <dlq partition>/<offset>. Deploy the fix first. ' +
          'Redriving a record twice is harmless: the sinks are idempotent (and fenced by source ' +
          'version, so an old change cannot overwrite a newer one). The DLQ itself is left as it is',
      ),
  )
    .option('--dry-run', 'list what would be redriven, produce nothing')
    .action(async (o: DlqOptions & { dryRun?: boolean }) => {
      const { kafka, entries, dlqTopic } = await readDeadLetters(o);
      const unfit = entries.filter((e) => redriveProblem(e) !== undefined);
      for (const e of unfit) console.error(`skipping ${dlqPosition(e)}: ${redriveProblem(e)}`);
      const fit = entries.filter((e) => redriveProblem(e) === undefined);
      if (fit.length === 0) {
        console.log(`no dead letters in ${dlqTopic} to redrive`);
        return;
      }
      if (o.dryRun) {
        console.log(formatTable(dlqRows(fit)));
        console.log(formatTable(redriveCounts(fit)));
        console.log(`dry run: ${fit.length} record(s) would be redriven, nothing produced`);
        return;
      }
      const progress = progressOnStderr('redrive', fit.length);
      await redriveDlq(kafka, fit, { onProgress: (done) => progress.update(done) });
      progress.stop(`redrove ${fit.length} record(s)`);
      console.log(formatTable(redriveCounts(fit)));
    });
}

function backfillCommand(program: Command): void {
  program
    .command('backfill <worker>')
    .summary("rebuild a worker's view from offset 0 (optionally into new tables)")
    .description(
      "rebuild a worker's view from offset 0 of its topics: runs the worker in this process under a " +
        'consumer group of its own (the live replicas are undisturbed), with a progress bar, until it ' +
        'has committed the log ends seen at start; then deletes that group. Without --table-prefix it ' +
        'writes the live tables (safe: the sinks are idempotent and fenced; it fills in what is ' +
        'missing). With one it provisions and fills new tables: switch TABLE_PREFIX to them once ' +
        'checked. Not for notify, notify-sender or lake (the command says why)',
    )
    .option('--table-prefix <prefix>', 'write tables with this prefix (created first)')
    .option(
      '--group <group>',
      'the backfill group (default <live group>-backfill-<time>); resumes an interrupted one',
    )
    .option(
      '--from-lake',
      'reactions, engagement: first replay koo.reactions from the Parquet lake (LAKE_BUCKET, LAKE_PREFIX), then go on from Kafka after its last offsets: a rebuild past the topic retention',
    )
    .action(async (worker: string, o: { tablePrefix?: string; group?: string; fromLake?: boolean }) => {
      const config = loadConfig(commonConfigSchema);
      const stop = interruption();
      let progress: Progress | undefined;
      try {
        const kafka = opsKafka(config);
        const result = await withAdmin(kafka, (admin) =>
          backfill(
            { kafka, admin },
            {
              worker,
              environment: process.env,
              tablePrefix: o.tablePrefix,
              groupId: o.group,
              fromLake: o.fromLake === true,
              signal: stop.signal,
              onStart: ({ groupId, total }) => {
                console.error(`backfilling ${worker} under group ${groupId}: ${total} record(s) to read`);
                progress = progressOnStderr('records', total);
              },
              onProgress: (done) => progress?.update(done),
            },
          ),
        );
        const rate = result.seconds > 0 ? Math.round(result.records / result.seconds) : result.records;
        progress?.update(result.records);
        progress?.stop(`${result.records} record(s) in ${result.seconds.toFixed(1)} s (${rate} records/s)`);
        console.log(
          formatTable([
            {
              worker: result.worker,
              'table prefix': result.tablePrefix === '' ? '(none)' : result.tablePrefix,
              records: result.records,
              seconds: result.seconds.toFixed(1),
              'records/s': rate,
              group: result.completed
                ? `${result.groupId} (deleted)`
                : `${result.groupId} (kept: resume with --group ${result.groupId})`,
            },
          ]),
        );
        if (!result.completed) process.exitCode = 130;
      } finally {
        stop.dispose();
      }
    });
}

/** `koo status|replay|dlq|backfill`: operating the consumers (logic in apps/ops). */
export function addOpsCommands(program: Command): void {
  statusCommand(program);
  replayCommand(program);
  dlqCommands(program);
  backfillCommand(program);
}

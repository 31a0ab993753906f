import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { Partitioners, type Admin, type Consumer, type Kafka, type Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { tableName } from '../../schemas/tables.ts';
import { topicNames } from '../../schemas/topics.ts';
import { dlqHeaders } from '../../shared/kafka/dlq.ts';
import type { RawRecord } from '../../shared/kafka/records.ts';
import { backfill } from '../../apps/ops/backfill.ts';
import { listDlq, redriveDlq } from '../../apps/ops/dlq.ts';
import { headerText } from '../../apps/ops/dlq-records.ts';
import { committedOffsets, deleteGroup, describeGroups } from '../../apps/ops/kafka-ops.ts';
import { GroupActiveError, replayGroup } from '../../apps/ops/replay.ts';
import { partitionKey } from '../../shared/kafka/records.ts';
import { groupStatuses } from '../../apps/ops/status.ts';
import { runWorker, type RunningWorker } from '../../shared/runtime/run-worker.ts';
import type { CatalogEntry } from '../../workers/catalog.ts';
import { contentWorkerModule } from '../../workers/content/content-worker.ts';
import { ContentQueries } from '../../workers/content/queries.ts';
import { envelope, kooRow } from '../support/cdc-events.ts';
import { contentReadPath, testBodyStore } from '../support/content.ts';
import { newId, runId } from '../support/ids.ts';
import { pinGroupAtEnd, setOffsets, testKafka } from '../support/kafka.ts';
import { logEnds } from '../../shared/kafka/consumer-lag.ts';
import { dropTables } from '../support/tables.ts';
import { waitFor } from '../support/wait-for.ts';

const root = resolve(import.meta.dirname, '../..');
const testTopic = `test-ops-${runId}`;
// A DLQ of this run (DLQ_TOPIC for the CLI): listing and redriving cannot reach other runs' dead letters.
const dlqTopic = `test-ops-dlq-${runId}`;
const creator = `ops${runId}`;
const lang = `zo${runId}`;
const groups = {
  status: `test-ops-status-${runId}`,
  cli: `test-ops-cli-${runId}`,
  replay: `test-ops-replay-${runId}`,
  content: `test-ops-content-${runId}`,
  /**
   * The backfill's: pinned where this run began, as if a backfill from offset 0 had stopped there
   * and is resumed. It reads what this run produced, not the whole history of a long-lived stack.
   */
  backfill: `koo-content-backfill-${runId}`,
};
const tablePrefix = `test_ops_${runId}_`;
// Record timestamps of the test topic, an hour back: partition 0 at base+0..4 s, partition 1 at base+0..1 s.
const base = Date.now() - 3_600_000;

/** The `koo` command as ops run it, with extra environment. */
function koo(args: string[], env: Record<string, string> = {}) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((done) =>
    execFile(
      process.execPath,
      ['apps/cli/koo.ts', ...args],
      { cwd: root, env: { ...process.env, LOG_LEVEL: 'warn', ...env } },
      (err, stdout, stderr) => done({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
    ),
  );
}

let lsn = Date.now() * 1000;
const kooMessage = (id: string) => ({
  key: JSON.stringify({ content_id: id }),
  value: JSON.stringify(envelope('koos', 'c', null, kooRow(id, { creator_id: creator, lang }), ++lsn)),
});

describe('ops CLI: status, replay, dlq, backfill', () => {
  let kafka: Kafka;
  let admin: Admin;
  let producer: Producer;
  const read = contentReadPath();
  /** The koos produced before the tests: id → where they landed on koo.public.koos. */
  const koos = new Map<string, { partition: number; offset: bigint }>();
  /** Every koo this run put on koo.public.koos (the redriven one too): what the backfill must find. */
  const produced: string[] = [];

  beforeAll(async () => {
    kafka = testKafka();
    admin = kafka.admin();
    producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await Promise.all([admin.connect(), producer.connect()]);
    await admin.createTopics({
      waitForLeaders: true,
      topics: [
        { topic: testTopic, numPartitions: 3 },
        { topic: dlqTopic, numPartitions: 2 },
      ],
    });
    await producer.send({
      topic: testTopic,
      messages: [
        ...[0, 1, 2, 3, 4].map((i) => ({
          partition: 0,
          value: `p0-${i}`,
          timestamp: String(base + i * 1000),
        })),
        ...[0, 1].map((i) => ({ partition: 1, value: `p1-${i}`, timestamp: String(base + i * 1000) })),
      ],
    });
    await pinGroupAtEnd(admin, groups.backfill, [topicNames.koos, topicNames.users]);
    for (const id of [newId(), newId(), newId()]) {
      const [meta] = await producer.send({ topic: topicNames.koos, messages: [kooMessage(id)] });
      koos.set(id, { partition: meta!.partition, offset: BigInt(meta!.baseOffset!) });
      produced.push(id);
    }
  });

  afterAll(async () => {
    await dropTables(tablePrefix);
    for (const g of Object.values(groups)) await deleteGroup(admin, g).catch(() => undefined);
    await admin?.deleteTopics({ topics: [testTopic, dlqTopic] }).catch(() => undefined);
    await Promise.all([admin?.disconnect(), producer?.disconnect()]);
    read.dynamo.destroy();
  });

  it('status: lag per partition of a group, and 0 once it is moved to the end', async () => {
    // A catalog entry of the test topic: exact lag, whatever other runs produce meanwhile.
    const entry: CatalogEntry = {
      name: 'ops-test',
      main: '',
      description: '',
      configSchema: z.object({}),
      group: { variable: 'OPS_TEST_GROUP_ID', defaultId: groups.status, topics: [testTopic] },
    };
    await setOffsets(groups.status, [
      {
        topic: testTopic,
        partitions: [
          { partition: 0, offset: '1' },
          { partition: 1, offset: '0' },
          { partition: 2, offset: '0' },
        ],
      },
    ]);
    const [status] = await groupStatuses(admin, [entry], {});
    expect(status).toMatchObject({ worker: 'ops-test', groupId: groups.status, state: 'Empty', members: 0 });
    expect(status!.partitions.map((p) => [p.partition, p.committed, p.end, p.lag])).toEqual([
      [0, 1n, 5n, 4n],
      [1, 0n, 2n, 2n],
      [2, 0n, 0n, 0n],
    ]);

    await pinGroupAtEnd(admin, groups.status, [testTopic]);
    const [after] = await groupStatuses(admin, [entry], {});
    expect(after!.partitions.map((p) => p.lag)).toEqual([0n, 0n, 0n]);
  });

  it('status: the CLI reports the group its *_GROUP_ID variable names, as one JSON object', async () => {
    // The content group at the end of both topics, except this run's koos, which it has still to read.
    const firstOfRun = new Map<number, bigint>();
    for (const { partition, offset } of koos.values()) {
      const seen = firstOfRun.get(partition);
      if (seen === undefined || offset < seen) firstOfRun.set(partition, offset);
    }
    await pinGroupAtEnd(admin, groups.cli, [topicNames.users]);
    await setOffsets(groups.cli, [
      {
        topic: topicNames.koos,
        partitions: (await logEnds(admin, topicNames.koos)).map(({ partition, offset }) => ({
          partition,
          offset: String(firstOfRun.get(partition) ?? offset),
        })),
      },
    ]);

    const { code, stdout, stderr } = await koo(['status', '--json'], { CONTENT_GROUP_ID: groups.cli });
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const report = JSON.parse(stdout) as {
      groups: {
        worker: string;
        groupId: string;
        state: string;
        members: number;
        lag: number;
        partitions: { topic: string; partition: number; committed: number; end: number; lag: number }[];
      }[];
      dlq: { topic: string; depth: number };
      notifications: { queue: string; counts?: Record<string, number> };
      replicationSlot: { slot: string; active?: boolean; retainedWalBytes?: number; error?: string };
    };
    const content = report.groups.find((g) => g.worker === 'content')!;
    expect(content).toMatchObject({ groupId: groups.cli, state: 'Empty', members: 0 });
    expect(content.partitions).toHaveLength(24); // both topics, every partition
    for (const p of content.partitions) {
      expect(p.lag).toBe(p.end - p.committed);
      const first = p.topic === topicNames.koos ? firstOfRun.get(p.partition) : undefined;
      if (first !== undefined) {
        expect(p.committed).toBe(Number(first));
        const mine = [...koos.values()].filter((k) => k.partition === p.partition).length;
        expect(p.lag).toBeGreaterThanOrEqual(mine);
      }
    }
    expect(content.lag).toBeGreaterThanOrEqual(koos.size);
    expect(report.groups.map((g) => g.worker)).toEqual([
      'content',
      'reactions',
      'engagement',
      'feed',
      'lake',
      'notify',
    ]);
    expect(report.dlq.topic).toBe(topicNames.dlq);
    expect(report.dlq.depth).toBeGreaterThanOrEqual(0);
    expect(report.notifications.counts).toMatchObject({
      waiting: expect.any(Number),
      failed: expect.any(Number),
    });
    // Debezium's slot on the stack's PostgreSQL: the connector is attached.
    expect(report.replicationSlot).toMatchObject({
      slot: 'koo_debezium',
      active: true,
      retainedWalBytes: expect.any(Number),
    });

    const text = await koo(['status'], { CONTENT_GROUP_ID: groups.cli });
    expect(text.code).toBe(0);
    const line = new RegExp(`\\ncontent +${groups.cli} +Empty +0 +(\\d+) *\\n`).exec(text.stdout);
    expect(Number(line?.[1])).toBeGreaterThanOrEqual(content.lag); // others may produce meanwhile
    expect(text.stdout).toMatch(new RegExp(`\\n${groups.cli} +koo.public.koos `)); // a lagging partition
    expect(text.stdout).toMatch(/\nreplication slot koo_debezium: active, [\d.]+ MiB of WAL retained/);
  });

  it('replay: refused while the group has a member, then lands on the offsets of the time', async () => {
    const consumer: Consumer = kafka.consumer({ groupId: groups.replay });
    const joined = new Promise((r) => consumer.on(consumer.events.GROUP_JOIN, r));
    await consumer.connect();
    await consumer.subscribe({ topic: testTopic, fromBeginning: true });
    await consumer.run({ eachMessage: async () => undefined });
    await joined;
    const request = {
      groupId: groups.replay,
      groupTopics: [testTopic],
      target: { kind: 'time', at: base + 2000 } as const,
    };
    await expect(replayGroup({ kafka: testKafka(), admin }, request)).rejects.toThrow(GroupActiveError);
    await expect(replayGroup({ kafka: testKafka(), admin }, request)).rejects.toThrow(
      /Stable with 1 member\(s\): stop every replica/,
    );
    const refused = await koo(['replay', 'content', '--to-offset', 'earliest'], {
      CONTENT_GROUP_ID: groups.replay,
    });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(`koo: group ${groups.replay} is Stable with 1 member(s)`);

    await consumer.disconnect();
    await waitFor('the group to be empty', async () => {
      const [g] = await describeGroups(admin, [groups.replay]);
      return g!.members === 0 && (g!.state === 'Empty' || g!.state === 'Dead');
    });
    const before = await committedOffsets(admin, groups.replay, [testTopic]);
    const plan = await replayGroup({ kafka: testKafka(), admin }, { ...request, dryRun: true });
    expect(plan.map((s) => [s.partition, s.after])).toEqual([
      [0, 2n], // the first record at or after base + 2 s
      [1, 2n], // none that recent: the log end
      [2, 0n], // empty
    ]);
    expect(await committedOffsets(admin, groups.replay, [testTopic])).toEqual(before);

    await replayGroup({ kafka: testKafka(), admin }, request);
    const after = await committedOffsets(admin, groups.replay, [testTopic]);
    expect([0, 1, 2].map((p) => after.get(partitionKey(testTopic, p)))).toEqual([2n, 2n, 0n]);
  });

  it('dlq: lists a dead letter by its filters, redrives it, and its worker processes it', async () => {
    const id = newId();
    const failedAt = new Date().toISOString();
    const failure = (worker: string, code: string, topic: string) => ({
      [dlqHeaders.code]: code,
      [dlqHeaders.reason]: 'rejected by an earlier version',
      [dlqHeaders.worker]: worker,
      [dlqHeaders.topic]: topic,
      [dlqHeaders.partition]: '0',
      [dlqHeaders.offset]: '0',
      [dlqHeaders.failedAt]: failedAt,
    });
    // A koo an earlier version of the content worker dead-lettered, and a follow the feed worker did.
    const [meta] = await producer.send({
      topic: dlqTopic,
      acks: -1,
      messages: [
        {
          ...kooMessage(id),
          partition: 1,
          headers: {
            traceparent: `00-${runId}-01`,
            ...failure('content', 'VALIDATION_FAILED', topicNames.koos),
          },
        },
      ],
    });
    await producer.send({
      topic: dlqTopic,
      acks: -1,
      messages: [
        { key: 'f', value: '{not json', headers: failure('feed', 'DECODE_FAILED', topicNames.follows) },
      ],
    });
    const dlqPosition = `${meta!.partition}/${meta!.baseOffset}`;

    expect(await listDlq(kafka, admin, dlqTopic, {})).toHaveLength(2);
    const [feedLetter] = await listDlq(kafka, admin, dlqTopic, { code: 'DECODE_FAILED' });
    expect(feedLetter).toMatchObject({ worker: 'feed', sourceTopic: topicNames.follows });
    const entries = await listDlq(kafka, admin, dlqTopic, { worker: 'content' });
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      worker: 'content',
      code: 'VALIDATION_FAILED',
      failedAt,
      sourceTopic: topicNames.koos,
    });

    const listed = await koo(['dlq', 'list', '--worker', 'content', '--json'], { DLQ_TOPIC: dlqTopic });
    expect(listed.code).toBe(0);
    const json = JSON.parse(listed.stdout) as { key: { text: string }; reason: string }[];
    expect(json).toHaveLength(1);
    expect(json[0]!.key.text).toContain(id);
    const dry = await koo(['dlq', 'redrive', '--worker', 'content', '--dry-run'], { DLQ_TOPIC: dlqTopic });
    expect(dry.stdout).toContain('dry run: 1 record(s) would be redriven, nothing produced');

    // A content worker of its own, from the end of its topics: it reads only what comes next.
    await pinGroupAtEnd(admin, groups.content, [topicNames.koos, topicNames.users]);
    const consumed: RawRecord[] = [];
    const worker: RunningWorker = await runWorker(contentWorkerModule, {
      ownProcess: false,
      env: { ...process.env, LOG_LEVEL: 'warn', CONTENT_GROUP_ID: groups.content },
      onCommitted: (records) => consumed.push(...records),
    });
    try {
      await redriveDlq(kafka, entries);
      const view = await waitFor('the redriven koo in koo_content', () =>
        read.queries.getKoo(id).then((k) => k ?? undefined),
      );
      expect(view).toMatchObject({ contentId: id, creatorId: creator, lang });
      // The view can show the koo a moment before its offset is committed.
      const redriven = await waitFor('the redriven record committed', () =>
        consumed.find((r) => r.key?.toString().includes(id)),
      );
      expect(headerText(redriven.headers, 'koo-redrive-for')).toBe('content');
      expect(headerText(redriven.headers, 'koo-redriven-from')).toBe(dlqPosition);
      expect(headerText(redriven.headers, 'traceparent')).toBe(`00-${runId}-01`);
      expect(
        Object.keys(redriven.headers).filter((h) => Object.values(dlqHeaders).includes(h as never)),
      ).toEqual([]);
    } finally {
      await worker.close();
    }
    produced.push(id);
  });

  it("backfill: rebuilds koo_content into prefixed tables from its group's commits, then deletes its group", async () => {
    const progress: number[] = [];
    let started: { groupId: string; total: number } | undefined;
    const result = await backfill(
      { kafka: testKafka(), admin },
      {
        worker: 'content',
        environment: { ...process.env, LOG_LEVEL: 'warn' },
        tablePrefix,
        groupId: groups.backfill,
        pollMs: 250,
        onStart: (info) => (started = info),
        onProgress: (done) => progress.push(done),
      },
    );
    expect(result).toMatchObject({ worker: 'content', tablePrefix, completed: true });
    expect(started!.total).toBeGreaterThanOrEqual(produced.length);
    expect(result.records).toBe(started!.total);
    expect(progress.length).toBeGreaterThan(0);

    const queries = new ContentQueries(read.dynamo, {
      contentTable: tableName('content', tablePrefix),
      mediaBucket: 'koo-media',
      bodies: testBodyStore(),
    });
    for (const id of produced) {
      expect(await queries.getKoo(id)).toMatchObject({ contentId: id, creatorId: creator, lang });
    }
    const [group] = await describeGroups(admin, [result.groupId]);
    expect(group!.state).toBe('Dead');

    const refused = await koo(['backfill', 'notify']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/will not backfill notify: .*notify users again/);
  });
});

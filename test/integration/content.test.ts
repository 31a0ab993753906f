import { randomBytes } from 'node:crypto';
import type { Admin, Consumer, Producer } from 'kafkajs';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topicNames } from '../../schemas/topics.ts';
import { dlqHeaders } from '../../shared/kafka/dlq.ts';
import type { RunningWorker } from '../../shared/runtime/run-worker.ts';
import { contentWorkerModule as contentWorker } from '../../workers/content/content-worker.ts';
import { contentReadPath, contentWorkerAttributes, sql, testBodyStore } from '../support/content.ts';
import { newId, runId } from '../support/ids.ts';
import { groupCaughtUp, pinGroupAtEnd, testKafka } from '../support/kafka.ts';
import { sourceDb } from '../support/postgres.ts';
import { waitFor } from '../support/wait-for.ts';
import { spawnWorker, startWorkerInProcess } from '../support/workers.ts';

const groupId = `test-content-${runId}`;
const lang = `zz${runId}`; // a language of this run only, so by-lang pages hold only this test's koos
const t = (minute: number) => new Date(Date.UTC(2026, 10, 27, 9, minute)).toISOString();

const replayGroup = `test-content-replay-${runId}`;

describe('content worker (PostgreSQL → Debezium → Kafka → koo_content)', () => {
  let db: pg.Pool;
  let worker: RunningWorker;
  let admin: Admin;
  let producer: Producer;
  const read = contentReadPath();

  beforeAll(async () => {
    db = sourceDb();
    const kafka = testKafka();
    admin = kafka.admin();
    producer = kafka.producer();
    await Promise.all([admin.connect(), producer.connect()]);
    await pinGroupAtEnd(admin, groupId, [topicNames.koos, topicNames.users]);
    // The replay starts where this file began: everything it produced, not a long-lived stack's history.
    await pinGroupAtEnd(admin, replayGroup, [topicNames.koos, topicNames.users]);
    worker = await startWorkerInProcess(contentWorker, { CONTENT_GROUP_ID: groupId, BATCH_SIZE: '200' });
  });

  afterAll(async () => {
    await worker?.close();
    await Promise.all([admin?.disconnect(), producer?.disconnect(), db?.end()]);
    read.dynamo.destroy();
  });

  it('turns inserts, updates and deletes into items reachable by every access pattern', async () => {
    const user = newId();
    const [k1, k2, k3] = [newId(), newId(), newId()];
    await db.query(sql.insertUser, [user, `asha_${user}`, 'Asha', false]);
    await db.query(sql.insertKoo, [
      k1,
      user,
      null,
      lang,
      'root',
      `s3://koo-media/${user}/nature_valley.jpg`,
      t(1),
    ]);
    await db.query(sql.insertKoo, [k2, user, k1, lang, 'reply', null, t(2)]);
    await db.query(sql.insertKoo, [k3, user, k2, lang, 'reply to reply', null, t(3)]);

    await waitFor(
      'the reply of a reply to know its thread root',
      async () => (await read.queries.getKoo(k3))?.superParentId === k1,
    );
    expect(await read.queries.getKoo(k1)).toMatchObject({
      contentId: k1,
      parentId: null,
      superParentId: null,
      creatorId: user,
      creatorHandle: `asha_${user}`,
      lang,
      body: 'root',
      mediaUri: `s3://koo-media/${user}/nature_valley.jpg`,
      createdAt: t(1),
    });
    expect((await read.rawItem(k1))?.m).toBe('nature_valley.jpg'); // stored short, derived on read
    const thread = await read.queries.getThread(k3);
    expect(thread?.parent?.contentId).toBe(k2);
    expect(thread?.superParent?.contentId).toBe(k1);

    const page1 = await read.queries.koosByLang(lang, 2, undefined, Date.parse(t(10)));
    expect(page1.items.map((k) => k.contentId)).toEqual([k3, k2]);
    const page2 = await read.queries.koosByLang(lang, 2, page1.cursor);
    expect(page2.items.map((k) => k.contentId)).toEqual([k1]);
    const byCreator = await read.queries.koosByCreator(user);
    expect(byCreator.items.map((k) => k.contentId)).toEqual([k3, k2, k1]);

    // Update: a koo's body, and the creator's handle, which every koo of theirs must show.
    await db.query('update koos set body = $2, updated_at = now() where content_id = $1', [
      k1,
      'root, edited',
    ]);
    await db.query('update users set handle = $2, updated_at = now() where user_id = $1', [
      user,
      `asha_new_${user}`,
    ]);
    await waitFor('the edit and the new handle', async () => {
      const koos = await Promise.all([k1, k2, k3].map((k) => read.queries.getKoo(k)));
      return koos[0]?.body === 'root, edited' && koos.every((k) => k?.creatorHandle === `asha_new_${user}`);
    });

    // Delete: gone from get, thread and both indexes; the reply keeps its root.
    await db.query('delete from koos where content_id = $1', [k2]);
    await waitFor('the delete', async () => (await read.queries.getKoo(k2)) === null);
    expect((await read.queries.koosByCreator(user)).items.map((k) => k.contentId)).toEqual([k3, k1]);
    expect(
      (await read.queries.koosByLang(lang, 10, undefined, Date.parse(t(10)))).items.map((k) => k.contentId),
    ).toEqual([k3, k1]);
    expect(await read.queries.getThread(k3)).toMatchObject({ parent: null, superParent: { contentId: k1 } });
  });

  it('resolves the super-parent when replies arrive before their parents', async () => {
    const user = newId();
    const [root, mid, leaf] = [newId(), newId(), newId()];
    await db.query(sql.insertUser, [user, `ravi_${user}`, 'Ravi', false]);
    // Separate transactions in reverse order: the worker sees the leaf first, then the middle, then the root.
    await db.query(sql.insertKoo, [leaf, user, mid, lang, 'leaf', null, t(23)]);
    await db.query(sql.insertKoo, [mid, user, root, lang, 'mid', null, t(22)]);
    await waitFor('the middle reply to be stored', async () => (await read.queries.getKoo(mid)) !== null);
    expect((await read.queries.getKoo(leaf))?.superParentId).toBeNull();
    await db.query(sql.insertKoo, [root, user, null, lang, 'root', null, t(21)]);
    await waitFor('both replies to find the root', async () => {
      const [m, l] = await Promise.all([read.queries.getKoo(mid), read.queries.getKoo(leaf)]);
      return m?.superParentId === root && l?.superParentId === root;
    });
    // The waited-on marks are removed once resolved.
    await waitFor('the waited-on marks to be removed', async () => {
      const [r, m] = await Promise.all([read.rawItem(root), read.rawItem(mid)]);
      return !r?.pw && !m?.pw;
    });
  });

  it('sends a malformed record to koo.dlq with its reason and carries on', async () => {
    const [meta] = await producer.send({
      topic: topicNames.koos,
      messages: [{ key: `{"content_id":"${runId}"}`, value: '{not json' }],
    });
    const badOffset = meta!.baseOffset!;
    const badPartition = meta!.partition;
    const user = newId();
    const after = newId();
    await db.query(sql.insertUser, [user, `later_${user}`, 'Later', false]);
    await db.query(sql.insertKoo, [after, user, null, lang, 'after the bad record', null, t(30)]);
    await waitFor('the koo after the bad record', async () => (await read.queries.getKoo(after)) !== null);

    const consumer: Consumer = testKafka().consumer({ groupId: `test-dlq-reader-${runId}` });
    const found: Record<string, string>[] = [];
    await consumer.connect();
    await consumer.subscribe({ topic: topicNames.dlq, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const h = Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)]));
        if (
          h[dlqHeaders.offset] === badOffset &&
          h[dlqHeaders.partition] === String(badPartition) &&
          h[dlqHeaders.topic] === topicNames.koos &&
          h[dlqHeaders.worker] === 'content' // other files' lake, feed and notify workers read it too
        ) {
          found.push({ ...h, value: String(message.value) });
        }
      },
    });
    try {
      await waitFor('the bad record in the DLQ', () => found.length > 0, { timeoutMs: 30_000 });
    } finally {
      await consumer.disconnect();
    }
    expect(found[0]).toMatchObject({
      [dlqHeaders.code]: 'DECODE_FAILED',
      [dlqHeaders.worker]: 'content',
      value: '{not json',
    });
    expect(found[0]![dlqHeaders.reason]).toMatch(/not JSON/);
  });

  it('changes nothing when the topics are replayed from where this file began', async () => {
    const ids = [newId(), newId()];
    const user = newId();
    await db.query(sql.insertUser, [user, `replay_${user}`, 'Replay', false]);
    await db.query(sql.insertKoo, [ids[0], user, null, lang, 'one', null, t(40)]);
    await db.query(sql.insertKoo, [ids[1], user, ids[0], lang, 'two', null, t(41)]);
    await db.query('update koos set body = $2 where content_id = $1', [ids[0], 'one, edited']);
    await waitFor(
      'the edit to arrive',
      async () => (await read.rawItem(ids[0]!))?.t === 'one, edited' && !!(await read.rawItem(ids[1]!)),
    );
    await waitFor('the first worker to catch up', () =>
      groupCaughtUp(admin, groupId, [topicNames.koos, topicNames.users]),
    );
    // The content worker's attributes: a reply's engagement may reach its parent's item meanwhile.
    const contentItems = async () => (await Promise.all(ids.map(read.rawItem))).map(contentWorkerAttributes);
    const before = await contentItems();

    const replay = await startWorkerInProcess(contentWorker, { CONTENT_GROUP_ID: replayGroup });
    try {
      await waitFor(
        'the replaying worker to reach the end of the topics',
        () => groupCaughtUp(admin, replayGroup, [topicNames.koos, topicNames.users]),
        { timeoutMs: 120_000 },
      );
    } finally {
      await replay.close();
    }
    expect(await contentItems()).toEqual(before);
  });

  it('keeps a koo whose body is too large for an item: in S3, read back whole; its delete removes the object', async () => {
    const user = newId();
    const koo = newId();
    // ≈450 KB of UTF-8 (Devanagari is 3 bytes a letter): above DynamoDB's 400 KB item limit.
    const body = `${'क'.repeat(150_000)} ${koo}`;
    await db.query(sql.insertUser, [user, `big_${user}`, 'Big', false]);
    await db.query(sql.insertKoo, [koo, user, null, lang, body, null, t(40)]);

    const stored = await waitFor('the large koo', async () => (await read.queries.getKoo(koo)) ?? undefined);
    expect(stored.body.length).toBe(body.length);
    expect(stored.body === body).toBe(true); // not toBe(body): a failure would print 450 KB twice
    const item = (await read.rawItem(koo))!;
    expect(item.t).toBeUndefined();
    expect(item.tk).toBe(`${koo}/${stored.version}`);
    const byCreator = await read.queries.koosByCreator(user);
    expect(byCreator.items.map((k) => k.body === body)).toEqual([true]);

    await db.query('delete from koos where content_id = $1', [koo]);
    await waitFor('the delete', async () => (await read.queries.getKoo(koo)) === null);
    const bodies = testBodyStore();
    try {
      // Moderated text must not stay in the bucket.
      await waitFor(
        'the body object to be removed',
        async () => (await bodies.get(item.tk as string)) === null,
      );
    } finally {
      bodies.destroy();
    }
  });

  it('keeps a long body when an update leaves it unchanged (PostgreSQL does not resend TOASTed values)', async () => {
    const user = newId();
    const koo = newId();
    // Random, so compression cannot bring it under the TOAST threshold (about 2 KB).
    const body = randomBytes(6_000).toString('hex');
    await db.query(sql.insertUser, [user, `toast_${user}`, 'Toast', false]);
    await db.query(sql.insertKoo, [koo, user, null, lang, body, null, t(41)]);
    await waitFor('the koo', async () => (await read.queries.getKoo(koo))?.body === body);
    await db.query('update koos set media_url = $2, updated_at = now() where content_id = $1', [
      koo,
      `s3://koo-media/${user}/late.jpg`,
    ]);
    const updated = await waitFor('the update', async () => {
      const k = await read.queries.getKoo(koo);
      return k?.mediaUri === `s3://koo-media/${user}/late.jpg` ? k : undefined;
    });
    expect(updated.body === body).toBe(true); // not toBe(body): a failure would print 12 KB twice
  });

  it('refuses to start with a bad configuration value, naming it', async () => {
    const proc = spawnWorker('content', { BATCH_SIZE: 'many', CONTENT_GROUP_ID: `test-bad-${runId}` });
    const { code } = await proc.exited;
    expect(code).toBe(78);
    expect(proc.output()).toMatch(/BATCH_SIZE \("many"\): must be a number/);
  });
});

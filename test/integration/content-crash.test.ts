import type { Admin } from 'kafkajs';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tableName } from '../../schemas/tables.ts';
import { topicNames } from '../../schemas/topics.ts';
import { batchGet } from '../../shared/dynamodb/batch-writer.ts';
import { contentReadPath } from '../support/content.ts';
import { newId, runId } from '../support/ids.ts';
import { groupCaughtUp, pinGroupAtEnd, testKafka } from '../support/kafka.ts';
import { sourceDb } from '../support/postgres.ts';
import { waitFor } from '../support/wait-for.ts';
import { workerReplicas, crashSessionTimeout } from '../support/workers.ts';

const KOOS = 1500;
const groupId = `test-content-crash-${runId}`;

describe('content worker, 2 replicas, one SIGKILLed mid-stream', () => {
  let db: pg.Pool;
  let admin: Admin;
  const read = contentReadPath();
  const replicas = workerReplicas('content', {
    CONTENT_GROUP_ID: groupId,
    BATCH_SIZE: '100',
    ...crashSessionTimeout,
  });
  const start = replicas.start;

  beforeAll(async () => {
    db = sourceDb();
    admin = testKafka().admin();
    await admin.connect();
    await pinGroupAtEnd(admin, groupId, [topicNames.koos, topicNames.users]);
  });

  afterAll(async () => {
    replicas.killAll();
    await Promise.all([admin?.disconnect(), db?.end()]);
    read.dynamo.destroy();
  });

  it('loses no change and duplicates no effect', async () => {
    const user = newId();
    const ids = Array.from({ length: KOOS }, newId);
    // Every third koo replies to the one before it: thread links cross partitions and kills.
    const parentOf = (i: number) => (i % 3 === 0 ? null : ids[i - 1]!);
    await db.query(
      'insert into users (user_id, handle, display_name, is_eminent) values ($1, $2, $3, false)',
      [user, `crash_${user}`, 'Crash'],
    );

    let victim = start();
    start();
    const insertRange = async (from: number, to: number) => {
      for (let i = from; i < to; i += 100) {
        const rows = ids.slice(i, Math.min(to, i + 100));
        const values = rows
          .map((_, j) => `($${j * 3 + 1}, $${j * 3 + 2}, $${j * 3 + 3}, 'kn', 'v1')`)
          .join(',');
        await db.query(
          `insert into koos (content_id, creator_id, parent_id, lang, body) values ${values}`,
          rows.flatMap((id, j) => [id, user, parentOf(i + j)]),
        );
      }
    };
    const kill = async () => {
      // Kill once the victim has done some work, so the kill lands mid-stream.
      await waitFor('some koos to be stored', async () => !!(await read.rawItem(ids[0]!)));
      victim.child.kill('SIGKILL');
      await victim.exited;
      victim = start();
    };

    await insertRange(0, 500);
    await kill();
    await insertRange(500, 1000);
    await db.query(`update koos set body = 'v2', updated_at = now() where content_id = any($1)`, [
      ids.slice(0, 750),
    ]);
    await kill();
    await insertRange(1000, KOOS);
    await db.query(`update koos set body = 'v2', updated_at = now() where content_id = any($1)`, [
      ids.slice(750),
    ]);

    const keys = ids.map((id) => ({ id }));
    await waitFor(
      'every koo at its final version',
      async () => {
        const items = await batchGet(read.dynamo, tableName('content'), keys, { keyAttributes: ['id'] });
        return items.size === KOOS && [...items.values()].every((i) => i.t === 'v2');
      },
      { timeoutMs: 150_000, intervalMs: 1000 },
    );
    await waitFor(
      'the group to commit the end of the topics',
      () => groupCaughtUp(admin, groupId, [topicNames.koos, topicNames.users]),
      {
        timeoutMs: 60_000,
      },
    );
    const items = await batchGet(read.dynamo, tableName('content'), keys, { keyAttributes: ['id'] });
    ids.forEach((id, i) => {
      const item = items.get(id)!;
      const root = ids[i - (i % 3)]!;
      expect(item).toMatchObject({ c: user, h: `crash_${user}`, t: 'v2', lg: expect.stringMatching(/^kn#/) });
      expect(item.p).toBe(parentOf(i) ?? undefined);
      expect(item.sp).toBe(i % 3 === 0 ? undefined : root);
      expect(item.pw).toBeUndefined(); // nothing waits: no mark left
    });
  });
});

import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, describe, expect, it } from 'vitest';
import { contentAttr as A, pendingAttr as P, pendingKey, userAttr as U } from '../../schemas/koo-content.ts';
import { topicNames } from '../../schemas/topics.ts';
import type { DecodedRecord } from '../../shared/kafka/records.ts';
import { query } from '../../shared/dynamodb/query.ts';
import { Dynamo } from '../../shared/dynamodb/dynamo-client.ts';
import { ContentStore, contentTables } from '../../workers/content/content-store.ts';
import {
  ContentWorker,
  createContentWorker,
  loadContentConfig,
  type ContentEvent,
} from '../../workers/content/content-worker.ts';
import { testBodyStore } from '../support/content.ts';
import { envelope, kooRow, rawRecord, userRow } from '../support/cdc-events.ts';
import { newId } from '../support/ids.ts';
import { stackEnv } from '../support/stack-env.ts';
import { handlerContext } from '../support/workers.ts';

const ctx = handlerContext();
const tables = contentTables('');

/**
 * A catch-up in which thousands of koos arrive before what they wait for (issue 17: the pending
 * sets can pass 400 KB). The koos topic's partitions and the users topic drain at their own pace,
 * so a viral koo's replies, or a prolific creator's koos, can all come before it. The ids here are
 * 64 characters so that 6,500 of them pass 400 KB (the source's 16-character ids would need 26,000).
 */
describe('content worker: more koos wait than a DynamoDB item holds', () => {
  const worker = createContentWorker(loadContentConfig(process.env));
  const dynamo = new Dynamo({ region: stackEnv.awsRegion, endpoint: stackEnv.dynamodbEndpoint });
  const store = new ContentStore(dynamo, tables, 16);
  let lsn = 1_000;
  afterAll(() => dynamo.destroy());

  const longId = () => `${newId()}${'k'.repeat(48)}`;
  const record = (topic: string, table: string, row: object): DecodedRecord<ContentEvent> => {
    const raw = rawRecord(topic, envelope(table, 'c', null, row, lsn++));
    return { raw, value: worker.decode(raw)! };
  };
  const handleInBatches = async (records: DecodedRecord<ContentEvent>[]) => {
    for (let i = 0; i < records.length; i += 500) await worker.handle(records.slice(i, i + 500), ctx);
  };
  const waiting = async (waitsFor: string) =>
    (
      await query(dynamo, {
        TableName: tables.pending,
        KeyConditionExpression: '#id = :id',
        ExpressionAttributeNames: { '#id': P.waitsFor },
        ExpressionAttributeValues: { ':id': waitsFor },
        Select: 'COUNT',
        ConsistentRead: true,
      })
    ).Count;

  it('keeps 6,500 replies waiting for their parent (420 KB of ids), then gives each the root', async () => {
    const author = newId();
    const parent = longId();
    const replies = Array.from({ length: 6_500 }, longId);
    await worker.handle([record(topicNames.users, 'users', userRow(author))], ctx);
    await handleInBatches(
      replies.map((id) =>
        record(topicNames.koos, 'koos', kooRow(id, { creator_id: author, parent_id: parent })),
      ),
    );
    expect(await waiting(pendingKey.children(parent))).toBe(replies.length);
    expect((await store.getKoo(parent))?.[A.waitedOn]).toBe(1);

    const parentRecord = record(topicNames.koos, 'koos', kooRow(parent, { creator_id: author }));
    await worker.handle([parentRecord], ctx);
    const stored = await store.getKoos(replies);
    expect(replies.filter((id) => stored.get(id)?.[A.superParent] !== parent)).toEqual([]);
    expect(await waiting(pendingKey.children(parent))).toBe(0);
    expect((await store.getKoo(parent))?.[A.waitedOn]).toBeUndefined();

    // Redelivered: nothing left to settle, nothing changes.
    await worker.handle([parentRecord], ctx);
    expect((await store.getKoos(replies.slice(0, 50))).get(replies[0]!)?.[A.superParent]).toBe(parent);
  });

  it('keeps koos waiting for their creator, then gives each the handle', async () => {
    const creator = newId();
    const koos = Array.from({ length: 600 }, longId);
    await handleInBatches(
      koos.map((id) => record(topicNames.koos, 'koos', kooRow(id, { creator_id: creator }))),
    );
    expect(await waiting(pendingKey.koos(creator))).toBe(koos.length);

    await worker.handle(
      [record(topicNames.users, 'users', userRow(creator, { handle: 'late_handle' }))],
      ctx,
    );
    const stored = await store.getKoos(koos);
    expect(koos.filter((id) => stored.get(id)?.[A.creatorHandle] !== 'late_handle')).toEqual([]);
    expect(await waiting(pendingKey.koos(creator))).toBe(0);
    const user = await dynamo.call('GetItem', (doc) =>
      doc.send(
        new GetCommand({ TableName: tables.users, Key: { [U.userId]: creator }, ConsistentRead: true }),
      ),
    );
    expect(user.Item?.[U.handle]).toBe('late_handle');
    expect(user.Item?.[U.waitedOn]).toBeUndefined();
  });

  it('drains the string sets earlier versions kept on the item (a deployment upgraded mid-wait)', async () => {
    const author = newId();
    const [parent, reply] = [newId(), newId()];
    await handleInBatches([
      record(topicNames.users, 'users', userRow(author)),
      record(topicNames.koos, 'koos', kooRow(reply, { creator_id: author, parent_id: parent })),
    ]);
    // Moved back into the set on the parent stub, where the earlier version kept it.
    await store.drainPending(pendingKey.children(parent), async () => {});
    await dynamo.call('UpdateItem', (doc) =>
      doc.send(
        new UpdateCommand({
          TableName: tables.content,
          Key: { [A.contentId]: parent },
          UpdateExpression: 'ADD #pc :r REMOVE #w',
          ExpressionAttributeNames: { '#pc': A.pendingChildren, '#w': A.waitedOn },
          ExpressionAttributeValues: { ':r': new Set([reply]) },
        }),
      ),
    );
    await worker.handle([record(topicNames.koos, 'koos', kooRow(parent, { creator_id: author }))], ctx);
    expect((await store.getKoo(reply))?.[A.superParent]).toBe(parent);
    expect((await store.getKoo(parent))?.[A.pendingChildren]).toBeUndefined();
  });

  it('writes a thread that arrives in one batch, replies first, with its roots: one write per koo, nothing waits', async () => {
    /** The stack's DynamoDB, counting the requests by operation. */
    class CountingDynamo extends Dynamo {
      readonly calls = new Map<string, number>();
      override call<T>(operation: string, request: Parameters<Dynamo['call']>[1]): Promise<T> {
        this.calls.set(operation, (this.calls.get(operation) ?? 0) + 1);
        return super.call(operation, request) as Promise<T>;
      }
    }
    const counting = new CountingDynamo({ region: stackEnv.awsRegion, endpoint: stackEnv.dynamodbEndpoint });
    const config = loadContentConfig(process.env);
    const counted = new ContentWorker({
      store: new ContentStore(counting, tables, config.SINK_CONCURRENCY),
      bodies: testBodyStore(),
      config,
    });
    const author = newId();
    await worker.handle([record(topicNames.users, 'users', userRow(author))], ctx);
    // root ← a ← b ← c, and d ← root, in one batch with the deepest reply first.
    const [root, a, b, c, d] = Array.from({ length: 5 }, newId);
    const koo = (id: string, parent: string | null) =>
      record(topicNames.koos, 'koos', kooRow(id, { creator_id: author, parent_id: parent }));
    const thread = [koo(c!, b!), koo(b!, a!), koo(d!, root!), koo(a!, root!), koo(root!, null)];
    try {
      await counted.handle(thread, ctx);
      const stored = await store.getKoos([a!, b!, c!, d!]);
      expect([a, b, c, d].map((id) => stored.get(id!)?.[A.superParent])).toEqual([root, root, root, root]);
      for (const id of [root, a, b]) expect(await waiting(pendingKey.children(id!))).toBe(0);
      // Five fenced writes; reads of the creators, of the parents before each of the four rounds
      // but the first, and of the creators again after the writes (their handles).
      expect(counting.calls.get('UpdateItem')).toBe(5);
      expect(counting.calls.get('TransactWriteItems')).toBeUndefined();
      expect(counting.calls.get('BatchGetItem')).toBe(1 + 4 + 1);
    } finally {
      counting.destroy();
    }
  });
});

import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { Kafka } from 'kafkajs';
import type { Dynamo } from '../shared/dynamodb/dynamo-client.ts';
import type { RawRecord } from '../shared/kafka/records.ts';
import { runPerRecordConsumer } from './naive-consumer.ts';
import { ContentStore, type ContentTables } from '../workers/content/content-store.ts';
import { decodeContentEvent, loadContentConfig } from '../workers/content/content-worker.ts';
import { kooTombstone, kooWrite, userWrite } from '../workers/content/decide.ts';

/**
 * The baseline the content worker is measured against: what a first version would do. One
 * record at a time (eachMessage, auto-commit), a GetItem per join, and the same fenced
 * UpdateItem per event (a PutItem would wipe attributes other workers own on the item).
 * It skips thread settling and handle propagation, so it does less than the real worker.
 */
export async function runNaiveContentConsumer(
  kafka: Kafka,
  dynamo: Dynamo,
  tables: ContentTables,
  groupId: string,
  topics: string[],
  onDone: (record: RawRecord) => void,
): Promise<() => Promise<void>> {
  // The benchmark's bodies are short: always inline, as in the worker.
  const settings = {
    mediaBucket: 'koo-media',
    tombstoneTtlSeconds: 86_400,
    bodyInlineMaxBytes: loadContentConfig(process.env).BODY_INLINE_MAX_BYTES,
  };
  const store = new ContentStore(dynamo, tables, 1);
  const get = async (table: string, id: string) =>
    (
      await dynamo.call('GetItem', (d) =>
        d.send(new GetCommand({ TableName: table, Key: { id }, ConsistentRead: true })),
      )
    ).Item;
  return runPerRecordConsumer(kafka, groupId, topics, async (raw) => {
    const event = decodeContentEvent(raw);
    if (event?.kind === 'user') {
      await store.writeUser(userWrite(event.change, settings, Date.now()));
    } else if (event?.kind === 'koo') {
      const c = event.change;
      if (c.op === 'd') {
        await store.writeKoo(kooTombstone(c, settings, Date.now()));
      } else {
        const user = await get(tables.users, c.after!.creator_id);
        const parent = c.after!.parent_id ? await get(tables.content, c.after!.parent_id) : undefined;
        await store.writeKoo(kooWrite(c, user, parent, settings));
      }
    }
    onDone(raw);
  });
}

import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { Kafka } from 'kafkajs';
import { contentAttr as A, userAttr as U } from '../schemas/koo-content.ts';
import type { Dynamo } from '../shared/dynamodb/dynamo-client.ts';
import { isConditionFailed } from '../shared/dynamodb/dynamo-client.ts';
import type { RawRecord } from '../shared/kafka/records.ts';
import { decodeContentEvent } from '../workers/content/content-worker.ts';
import { kooTombstone, kooWrite, userWrite } from '../workers/content/decide.ts';

/**
 * The baseline the content worker is measured against: what a first version would do. One
 * record at a time (eachMessage, auto-commit), a GetItem per join, one fenced PutItem per event.
 * It skips thread settling and handle propagation, so it does less than the real worker.
 */
export async function runNaiveContentConsumer(
  kafka: Kafka,
  dynamo: Dynamo,
  tables: { content: string; users: string },
  groupId: string,
  topics: string[],
  onDone: (record: RawRecord) => void,
): Promise<() => Promise<void>> {
  const settings = { mediaBucket: 'koo-media', tombstoneTtlSeconds: 86_400 };
  const get = async (table: string, id: string) =>
    (await dynamo.call('GetItem', (d) => d.send(new GetCommand({ TableName: table, Key: { id } })))).Item;
  const put = async (table: string, id: string, set: Record<string, unknown>, version: number) => {
    const item = Object.fromEntries(Object.entries({ id, ...set }).filter(([, v]) => v !== null));
    try {
      await dynamo.call('PutItem', (d) =>
        d.send(
          new PutCommand({
            TableName: table,
            Item: item,
            ConditionExpression: 'attribute_not_exists(#v) OR #v <= :v',
            ExpressionAttributeNames: { '#v': 'v' },
            ExpressionAttributeValues: { ':v': version },
          }),
        ),
      );
    } catch (err) {
      if (!isConditionFailed(err)) throw err;
    }
  };
  const consumer = kafka.consumer({ groupId });
  await consumer.connect();
  for (const topic of topics) await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ topic, partition, message }) => {
      const raw: RawRecord = {
        topic,
        partition,
        offset: message.offset,
        key: message.key ?? null,
        value: message.value ?? null,
        timestamp: message.timestamp,
        headers: message.headers ?? {},
      };
      const event = decodeContentEvent(raw);
      if (event?.kind === 'user') {
        const w = userWrite(event.change, settings, Date.now());
        await put(tables.users, w.userId, w.set, w.version);
      } else if (event?.kind === 'koo') {
        const c = event.change;
        if (c.op === 'd') {
          const w = kooTombstone(c, settings, Date.now());
          await put(tables.content, w.contentId, w.set, w.version);
        } else {
          const user = await get(tables.users, c.after!.creator_id);
          const parent = c.after!.parent_id ? await get(tables.content, c.after!.parent_id) : undefined;
          const w = kooWrite(c, user && { [U.handle]: user[U.handle], [U.version]: user[U.version] }, parent, settings);
          await put(tables.content, w.contentId, { ...w.set, [A.parent]: c.after!.parent_id }, w.version);
        }
      }
      onDone(raw);
    },
  });
  return async () => {
    await consumer.disconnect();
  };
}

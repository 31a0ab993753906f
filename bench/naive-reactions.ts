import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Kafka } from 'kafkajs';
import { topicNames } from '../schemas/topics.ts';
import { contentAttr as A } from '../schemas/koo-content.ts';
import { reactionContract } from '../schemas/reaction.ts';
import { RegistryCodec } from '../shared/avro/registry-codec.ts';
import type { Dynamo } from '../shared/dynamodb/dynamo-client.ts';
import { rawRecordOf, type RawRecord } from '../shared/kafka/records.ts';

const counterOf = {
  like: [A.likes, 1],
  unlike: [A.likes, -1],
  share: [A.shares, 1],
  rekoo: [A.rekoos, 1],
} as const;

/**
 * The baseline the reactions worker is measured against: what a first version would do. One
 * reaction at a time (eachMessage, auto-commit), one UpdateItem adding ±1 to the koo's counter.
 * It keeps no who-reacted items and no fence, so unlike the worker it miscounts duplicates, a
 * second like and any replay: it does less, and is still the slower one.
 */
export async function runNaiveReactionsConsumer(
  kafka: Kafka,
  dynamo: Dynamo,
  options: { contentTable: string; groupId: string; registryUrl: string },
  onDone: (record: RawRecord) => void,
): Promise<() => Promise<void>> {
  const codec = new RegistryCodec(new SchemaRegistry({ host: options.registryUrl }), reactionContract);
  const consumer = kafka.consumer({ groupId: options.groupId });
  await consumer.connect();
  await consumer.subscribe({ topic: topicNames.reactions, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ topic, partition, message }) => {
      const raw = rawRecordOf(topic, partition, message);
      await codec.prepare([raw.value]);
      const reaction = codec.decode(raw.value);
      const [attribute, by] = counterOf[reaction.type];
      await dynamo.call('UpdateItem', (doc) =>
        doc.send(
          new UpdateCommand({
            TableName: options.contentTable,
            Key: { [A.contentId]: reaction.content_id },
            UpdateExpression: 'ADD #n :by',
            ExpressionAttributeNames: { '#n': attribute },
            ExpressionAttributeValues: { ':by': by },
          }),
        ),
      );
      onDone(raw);
    },
  });
  return () => consumer.disconnect();
}

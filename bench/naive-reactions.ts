import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Kafka } from 'kafkajs';
import { contentAttr as A } from '../schemas/koo-content.ts';
import type { Dynamo } from '../shared/dynamodb/dynamo-client.ts';
import type { RawRecord } from '../shared/kafka/records.ts';
import { tableName } from '../schemas/tables.ts';
import type { BenchConsumer } from './drain.ts';
import { runPerReactionConsumer } from './naive-consumer.ts';

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
export function runNaiveReactionsConsumer(
  kafka: Kafka,
  dynamo: Dynamo,
  options: { contentTable: string; groupId: string; registryUrl: string },
  onDone: (record: RawRecord) => void,
): Promise<() => Promise<void>> {
  return runPerReactionConsumer(kafka, options.groupId, options.registryUrl, async (reaction, raw) => {
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
  });
}

/** The naive consumer as a benchmark runs it, on the koos of the tables under `tablePrefix`. */
export function naiveReactionsConsumer(
  kafka: Kafka,
  dynamo: Dynamo,
  tablePrefix: string,
  registryUrl: string,
): BenchConsumer {
  return {
    label: 'naive (one UpdateItem per event)',
    start: (groupId, onDone) =>
      runNaiveReactionsConsumer(
        kafka,
        dynamo,
        { contentTable: tableName('content', tablePrefix), groupId, registryUrl },
        (r) => onDone([r]),
      ),
  };
}

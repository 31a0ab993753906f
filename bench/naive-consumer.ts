import { createSchemaRegistry } from '../shared/avro/schema-registry-client.ts';
import type { Kafka } from 'kafkajs';
import { reactionContract, type Reaction } from '../schemas/reaction.ts';
import { topicNames } from '../schemas/topics.ts';
import { RegistryCodec } from '../shared/avro/registry-codec.ts';
import { rawRecordOf, type RawRecord } from '../shared/kafka/records.ts';

/**
 * How every naive baseline consumes, as a first version would: one record at a time
 * (eachMessage, auto-commit) from the start of its topics. Resolves to the function that stops it.
 */
export async function runPerRecordConsumer(
  kafka: Kafka,
  groupId: string,
  topics: readonly string[],
  onRecord: (raw: RawRecord, heartbeat: () => Promise<void>) => Promise<void>,
): Promise<() => Promise<void>> {
  const consumer = kafka.consumer({ groupId });
  await consumer.connect();
  for (const topic of topics) await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: ({ topic, partition, message, heartbeat }) =>
      onRecord(rawRecordOf(topic, partition, message), heartbeat),
  });
  return () => consumer.disconnect();
}

/** The same over koo.reactions, each record decoded through the schema registry. */
export function runPerReactionConsumer(
  kafka: Kafka,
  groupId: string,
  registryUrl: string,
  onReaction: (reaction: Reaction, raw: RawRecord) => Promise<void>,
): Promise<() => Promise<void>> {
  const codec = new RegistryCodec(createSchemaRegistry(registryUrl), reactionContract);
  return runPerRecordConsumer(kafka, groupId, [topicNames.reactions], async (raw) => {
    await codec.prepare([raw.value]);
    await onReaction(codec.decode(raw.value), raw);
  });
}

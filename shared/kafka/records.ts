import type { IHeaders, KafkaMessage } from 'kafkajs';

/** A Kafka record as the runtime hands it to a worker's decoder. */
export interface RawRecord {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  timestamp: string;
  headers: IHeaders;
}

/** A record the worker's decoder accepted, with its decoded value. */
export interface DecodedRecord<T> {
  raw: RawRecord;
  value: T;
}

/** A topic partition's key in a map of per-partition state. */
export const partitionKey = (topic: string, partition: number) => `${topic}/${partition}`;

/** A kafkajs message as a RawRecord. */
export function rawRecordOf(topic: string, partition: number, message: KafkaMessage): RawRecord {
  return {
    topic,
    partition,
    offset: message.offset,
    key: message.key ?? null,
    value: message.value ?? null,
    timestamp: message.timestamp,
    headers: message.headers ?? {},
  };
}

import type { IHeaders } from 'kafkajs';

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

import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import avro from 'avsc';
import { KooError, errorMessage } from '../errors/koo-error.ts';
import type { AvroContract, RecordContext } from './avro-contract.ts';
import type { RawRecord } from '../kafka/records.ts';
import { frame, unframe } from './wire-format.ts';

/**
 * Reads and writes one event type in the Confluent wire format. Decoding is synchronous (the
 * runtime's decode is pure): `prepare` first fetches the writer schemas of a batch's messages
 * from the registry, then `decode` reads each message with its writer's schema and projects it
 * onto the reader's contract, so events of older and newer compatible schemas both decode.
 */
export class RegistryCodec<T> {
  readonly contract: AvroContract<T>;
  private readonly registry: SchemaRegistry;
  /** Writer schema per registry id; null when the registry does not know the id. */
  private readonly writers = new Map<number, avro.Type | null>();

  constructor(registry: SchemaRegistry, contract: AvroContract<T>) {
    this.registry = registry;
    this.contract = contract;
  }

  /** Loads the writer schemas these messages name; throws a retriable error when the registry does not answer. */
  async prepare(messages: Iterable<Buffer | null>): Promise<void> {
    const missing = new Set<number>();
    for (const m of messages) {
      if (m !== null && m.length >= 5 && m[0] === 0) missing.add(m.readInt32BE(1));
    }
    for (const id of this.writers.keys()) missing.delete(id);
    await Promise.all([...missing].map((id) => this.loadWriter(id)));
  }

  private async loadWriter(id: number): Promise<void> {
    try {
      const schema = await this.registry.getSchema(id);
      this.writers.set(id, schema instanceof avro.Type ? schema : null);
    } catch (err) {
      if ((err as { status?: number }).status === 404) {
        this.writers.set(id, null);
        return;
      }
      throw new KooError(
        'REGISTRY_UNAVAILABLE',
        `schema registry did not return schema ${id}: ${errorMessage(err)}`,
        {
          retriable: true,
          cause: err,
        },
      );
    }
  }

  /** The event in the reader's shape; throws DECODE_FAILED, SCHEMA_UNKNOWN or VALIDATION_FAILED (naming the field). */
  decode(message: Buffer | null, context: RecordContext = {}): T {
    const { schemaId, payload } = unframe(message);
    const writer = this.writers.get(schemaId);
    if (writer === undefined)
      throw new KooError('INTERNAL', `schema ${schemaId} was not prepared before decode`);
    if (writer === null) {
      throw new KooError('SCHEMA_UNKNOWN', `schema id ${schemaId} is not in the registry (or is not Avro)`, {
        details: { schemaId },
      });
    }
    let value: unknown;
    try {
      value = writer.fromBuffer(payload);
    } catch (err) {
      throw new KooError(
        'DECODE_FAILED',
        `not an Avro ${writer.name ?? 'record'} of schema ${schemaId}: ${errorMessage(err)}`,
        {
          cause: err,
          details: { schemaId },
        },
      );
    }
    return this.contract.read(value, context);
  }

  /** A consumed record's value, checked against its Kafka timestamp (when it was written). */
  decodeRecord(record: Pick<RawRecord, 'value' | 'timestamp'>): T {
    return this.decode(record.value, { writtenAtMs: Number(record.timestamp) });
  }

  /** Frames an event (read through the contract first) with the reader's schema, registered under `schemaId`. */
  encode(schemaId: number, value: T): Buffer {
    return frame(schemaId, this.contract.type.toBuffer(value));
  }
}

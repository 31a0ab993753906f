import { KooError } from '../errors/koo-error.ts';

/**
 * Confluent's wire format, which every Confluent-compatible client speaks: one magic byte (0),
 * the writer schema's registry id as a 4-byte big-endian integer, then the Avro binary encoding.
 */
const MAGIC_BYTE = 0;
const HEADER_BYTES = 5;

export function frame(schemaId: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(HEADER_BYTES);
  header.writeUInt8(MAGIC_BYTE, 0);
  header.writeInt32BE(schemaId, 1);
  return Buffer.concat([header, payload]);
}

/** Splits a framed message; throws DECODE_FAILED for anything not in the format. */
export function unframe(message: Buffer | null): { schemaId: number; payload: Buffer } {
  if (message === null)
    throw new KooError('DECODE_FAILED', 'empty value: expected an Avro message in the Confluent wire format');
  if (message.length < HEADER_BYTES || message[0] !== MAGIC_BYTE) {
    throw new KooError('DECODE_FAILED', 'not in the Confluent wire format (magic byte 0 and a schema id)', {
      details: { length: message.length, firstByte: message[0] },
    });
  }
  return { schemaId: message.readInt32BE(1), payload: message.subarray(HEADER_BYTES) };
}

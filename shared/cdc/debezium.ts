import { z } from 'zod';
import { KooError } from '../errors/koo-error.ts';
import type { RawRecord } from '../kafka/records.ts';

/**
 * A Debezium change event, decoded and validated: the operation, the row before and after,
 * and the source position used as the version fence.
 */
export interface ChangeEvent<Row> {
  op: 'c' | 'u' | 'd' | 'r';
  before: Row | null;
  after: Row | null;
  /** PostgreSQL LSN of the change: increases with every change of a row, so it fences replays. */
  lsn: number;
  txId: number | null;
  /** When the change happened in the database (source.ts_ms). */
  changedAtMs: number;
  table: string;
}

const envelopeSchema = z.object({
  op: z.enum(['c', 'u', 'd', 'r']),
  before: z.unknown().nullable().optional(),
  after: z.unknown().nullable().optional(),
  source: z.object({
    // Null in an incremental snapshot's reads ('r'), whose position is in `sequence`.
    lsn: z.number().int().nonnegative().nullable(),
    sequence: z.string().nullable().optional(),
    txId: z.number().int().nullable().optional(),
    ts_ms: z.number().int(),
    table: z.string(),
  }),
  ts_ms: z.number().int().optional(),
});

/** What Debezium puts in a column PostgreSQL did not resend: an unchanged TOASTed value. */
export const unavailableValue = '__debezium_unavailable_value';

/**
 * An update's unchanged TOASTed columns (a long body) come as a placeholder when the table's
 * REPLICA IDENTITY is not FULL. It must never overwrite a value: it is taken from the before
 * image, and without one the event is refused, naming the column and the fix.
 */
function withToastedValues(after: unknown, before: unknown, table: string): unknown {
  if (typeof after !== 'object' || after === null) return after;
  const row = after as Record<string, unknown>;
  const missing = Object.keys(row).filter((k) => row[k] === unavailableValue);
  if (missing.length === 0) return after;
  const old = (typeof before === 'object' && before !== null ? before : {}) as Record<string, unknown>;
  const unknown = missing.filter((k) => old[k] === undefined || old[k] === unavailableValue);
  if (unknown.length > 0)
    throw invalid(
      `${table}: ${unknown.join(', ')} unchanged but not sent (TOAST); set REPLICA IDENTITY FULL on the table`,
    );
  return { ...row, ...Object.fromEntries(missing.map((k) => [k, old[k]])) };
}

/**
 * The change's position in the WAL, its version for the workers' fences. A row read by an
 * incremental snapshot (the signal table's `execute-snapshot`) has no LSN of its own; its
 * `sequence` ([last commit LSN, LSN], as text) holds the stream position it was read at, past
 * every change of the row Debezium had streamed before (a change inside the snapshot's window
 * supersedes the read: Debezium drops it).
 */
function positionOf(source: { lsn: number | null; sequence?: string | null | undefined }): number {
  if (source.lsn !== null) return source.lsn;
  let sequence: unknown;
  try {
    sequence = JSON.parse(source.sequence ?? 'null');
  } catch {
    sequence = null;
  }
  const last = Array.isArray(sequence) ? Number(sequence.findLast((p) => p !== null)) : NaN;
  if (!Number.isSafeInteger(last) || last < 0)
    throw invalid(`no position: source.lsn is null and source.sequence is ${String(source.sequence)}`);
  return last;
}

function invalid(message: string, cause?: unknown): KooError {
  return new KooError('VALIDATION_FAILED', message, { cause });
}

/**
 * Decodes a Debezium JSON envelope (JsonConverter, schemas disabled) and validates its row images
 * with the table's schema. A tombstone (null value, Kafka compaction's delete marker) yields null.
 * Anything else that does not fit throws a KooError naming what is wrong.
 */
export function decodeChangeEvent<Row>(
  record: RawRecord,
  rowSchema: z.ZodType<Row>,
): ChangeEvent<Row> | null {
  if (record.value === null || record.value.length === 0) return null;
  let json: unknown;
  try {
    json = JSON.parse(record.value.toString('utf8'));
  } catch (err) {
    throw new KooError('DECODE_FAILED', `not JSON: ${(err as Error).message}`, { cause: err });
  }
  const envelope = envelopeSchema.safeParse(json);
  if (!envelope.success)
    throw invalid(`not a Debezium change event: ${z.prettifyError(envelope.error).replace(/\n/g, '; ')}`);
  const e = envelope.data;
  const parseRow = (image: unknown, which: string): Row | null => {
    if (image === null || image === undefined) return null;
    const row = rowSchema.safeParse(image);
    if (!row.success)
      throw invalid(`${which} row of ${e.source.table}: ${z.prettifyError(row.error).replace(/\n/g, '; ')}`);
    return row.data;
  };
  const before = parseRow(e.before, 'before');
  const after = parseRow(withToastedValues(e.after, e.before, e.source.table), 'after');
  if (e.op === 'd' ? before === null : after === null) {
    throw invalid(`op '${e.op}' without the ${e.op === 'd' ? 'before' : 'after'} row`);
  }
  return {
    op: e.op,
    before,
    after,
    lsn: positionOf(e.source),
    txId: e.source.txId ?? null,
    changedAtMs: e.source.ts_ms,
    table: e.source.table,
  };
}

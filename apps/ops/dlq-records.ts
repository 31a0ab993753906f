import type { IHeaders } from 'kafkajs';
import { dlqHeaders, redriveForHeader } from '../../shared/kafka/dlq.ts';

/** Set by redrive on the record it puts back: `<dlq partition>/<dlq offset>`, to trace it to its dead letter. */
export const redrivenFromHeader = 'koo-redriven-from';

/** A record as read from the DLQ topic. */
export interface DlqRecord {
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: IHeaders;
}

/** A dead letter: what the DLQ headers say about it, and the record itself. */
export interface DlqEntry {
  record: DlqRecord;
  worker?: string;
  code?: string;
  reason?: string;
  failedAt?: string;
  sourceTopic?: string;
  sourcePartition?: string;
  sourceOffset?: string;
}

export interface DlqFilter {
  worker?: string;
  code?: string;
  /** The source topic. */
  topic?: string;
  /** Epoch ms: failed at or after. */
  since?: number;
}

export function headerText(headers: IHeaders, name: string): string | undefined {
  const value = headers[name];
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined ? undefined : first.toString();
}

export function dlqEntryOf(record: DlqRecord): DlqEntry {
  const h = (name: string) => headerText(record.headers, name);
  return {
    record,
    worker: h(dlqHeaders.worker),
    code: h(dlqHeaders.code),
    reason: h(dlqHeaders.reason),
    failedAt: h(dlqHeaders.failedAt),
    sourceTopic: h(dlqHeaders.topic),
    sourcePartition: h(dlqHeaders.partition),
    sourceOffset: h(dlqHeaders.offset),
  };
}

export function matchesDlqFilter(entry: DlqEntry, filter: DlqFilter): boolean {
  if (filter.worker !== undefined && entry.worker !== filter.worker) return false;
  if (filter.code !== undefined && entry.code !== filter.code) return false;
  if (filter.topic !== undefined && entry.sourceTopic !== filter.topic) return false;
  if (filter.since !== undefined) {
    const at = entry.failedAt === undefined ? NaN : Date.parse(entry.failedAt);
    if (!(at >= filter.since)) return false; // an entry without a readable time is not "since" anything
  }
  return true;
}

const failedAtMs = (e: DlqEntry) => {
  const at = e.failedAt === undefined ? NaN : Date.parse(e.failedAt);
  return Number.isNaN(at) ? Number.MAX_SAFE_INTEGER : at;
};

/** Oldest failure first (ties and unreadable times by DLQ position), at most `limit`. */
export function oldestFirst(entries: readonly DlqEntry[], limit?: number): DlqEntry[] {
  const sorted = [...entries].sort(
    (a, b) =>
      failedAtMs(a) - failedAtMs(b) ||
      a.record.partition - b.record.partition ||
      Number(BigInt(a.record.offset) - BigInt(b.record.offset)),
  );
  return limit === undefined ? sorted : sorted.slice(0, limit);
}

export const dlqPosition = (e: DlqEntry) => `${e.record.partition}/${e.record.offset}`;

function truncate(text: string, width: number): string {
  const flat = text.replace(/\s+/g, ' ');
  return flat.length <= width ? flat : `${flat.slice(0, width - 1)}…`;
}

/** Table rows for people: one line per dead letter, the reason cut to `reasonWidth`. */
export function dlqRows(entries: readonly DlqEntry[], reasonWidth = 60) {
  return entries.map((e) => ({
    dlq: dlqPosition(e),
    'failed at': e.failedAt ?? '',
    worker: e.worker ?? '',
    source: `${e.sourceTopic ?? '?'}/${e.sourcePartition ?? '?'}/${e.sourceOffset ?? '?'}`,
    code: e.code ?? '',
    reason: truncate(e.reason ?? '', reasonWidth),
  }));
}

// Text that a terminal or JSON reader can show; Avro and other binary values go as base64.
function printable(bytes: Buffer | null): { text: string } | { base64: string } | null {
  if (bytes === null) return null;
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    // eslint-disable-next-line no-control-regex
    if (!/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/.test(text)) return { text };
  } catch {
    // not UTF-8
  }
  return { base64: bytes.toString('base64') };
}

/** A dead letter for `--json`: every header as text, key and value as text or base64. */
export function dlqJson(entry: DlqEntry) {
  const { record, ...about } = entry;
  return {
    dlq: { partition: record.partition, offset: record.offset },
    ...about,
    key: printable(record.key),
    value: printable(record.value),
    headers: Object.fromEntries(
      Object.keys(record.headers).map((name) => [name, headerText(record.headers, name) ?? null]),
    ),
  };
}

/** Why a dead letter cannot go back to its source, or undefined if it can. */
export function redriveProblem(entry: DlqEntry): string | undefined {
  if (!entry.sourceTopic) return `no ${dlqHeaders.topic} header`;
  if (!entry.worker) return `no ${dlqHeaders.worker} header`;
  return undefined;
}

const removedOnRedrive = new Set<string>([
  ...Object.values(dlqHeaders),
  redriveForHeader,
  redrivenFromHeader,
]);

/**
 * The record to put back on the source topic: the original key, value and headers, without the
 * DLQ's, addressed to the worker that failed it (every other consumer of the topic handled the
 * original and skips it) and naming the dead letter it came from.
 */
export function redriveMessageOf(entry: DlqEntry): {
  topic: string;
  message: { key: Buffer | null; value: Buffer | null; headers: IHeaders };
} {
  const problem = redriveProblem(entry);
  if (problem) throw new Error(`dead letter ${dlqPosition(entry)} cannot be redriven: ${problem}`);
  const headers: IHeaders = {};
  for (const [name, value] of Object.entries(entry.record.headers)) {
    if (!removedOnRedrive.has(name) && value !== undefined) headers[name] = value;
  }
  headers[redriveForHeader] = entry.worker!;
  headers[redrivenFromHeader] = dlqPosition(entry);
  return {
    topic: entry.sourceTopic!,
    message: { key: entry.record.key, value: entry.record.value, headers },
  };
}

/** How many dead letters go back per worker and source topic. */
export function redriveCounts(entries: readonly DlqEntry[]) {
  const counts = new Map<string, { worker: string; topic: string; records: number }>();
  for (const e of entries) {
    const worker = e.worker ?? '?';
    const topic = e.sourceTopic ?? '?';
    const key = `${worker}\u0000${topic}`;
    const row = counts.get(key) ?? { worker, topic, records: 0 };
    row.records++;
    counts.set(key, row);
  }
  return [...counts.values()].sort(
    (a, b) => a.worker.localeCompare(b.worker) || a.topic.localeCompare(b.topic),
  );
}

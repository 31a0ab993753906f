import type { RawRecord } from '../../shared/kafka/records.ts';

/**
 * Debezium envelopes of exactly the shape the PostgreSQL connector writes (JsonConverter, no
 * schemas). `changedAtMs` is the change's commit time (source.ts_ms): a CDC event's event time.
 */
export function envelope(
  table: string,
  op: 'c' | 'u' | 'd' | 'r',
  before: object | null,
  after: object | null,
  lsn: number,
  changedAtMs = 1_764_000_000_000,
) {
  return {
    before,
    after,
    source: {
      version: '3.6.1.Final',
      connector: 'postgresql',
      name: 'koo',
      ts_ms: changedAtMs,
      snapshot: 'false',
      db: 'koo',
      schema: 'public',
      table,
      txId: 1000 + lsn,
      lsn,
    },
    op,
    ts_ms: 1_764_000_000_100,
  };
}

export function kooRow(id: string, overrides: Record<string, unknown> = {}) {
  return {
    content_id: id,
    creator_id: 'u1',
    parent_id: null,
    lang: 'hi',
    body: `body of ${id}`,
    media_url: null,
    created_at: '2026-11-27T08:00:00.000000Z',
    updated_at: '2026-11-27T08:00:00.000000Z',
    ...overrides,
  };
}

export function userRow(id: string, overrides: Record<string, unknown> = {}) {
  return {
    user_id: id,
    handle: `handle_${id}`,
    display_name: `User ${id}`,
    is_eminent: false,
    created_at: '2026-11-01T00:00:00Z',
    updated_at: '2026-11-01T00:00:00Z',
    ...overrides,
  };
}

export function rawRecord(topic: string, value: unknown, offset = 0): RawRecord {
  return {
    topic,
    partition: 0,
    offset: String(offset),
    key: null,
    value: value === null ? null : Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)),
    timestamp: '0',
    headers: {},
  };
}

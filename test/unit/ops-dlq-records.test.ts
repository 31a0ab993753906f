import type { IHeaders, Producer, ProducerRecord } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { KooError } from '../../shared/errors/koo-error.ts';
import { dlqHeaders, redriveForHeader, redriveTarget, sendToDlq } from '../../shared/kafka/dlq.ts';
import type { RawRecord } from '../../shared/kafka/records.ts';
import {
  dlqEntryOf,
  dlqJson,
  dlqRows,
  matchesDlqFilter,
  oldestFirst,
  redriveCounts,
  redriveMessageOf,
  redriveProblem,
  redrivenFromHeader,
  type DlqRecord,
} from '../../apps/ops/dlq-records.ts';

function dlqRecord(offset: number, headers: Record<string, string>, partition = 0): DlqRecord {
  return {
    partition,
    offset: String(offset),
    key: Buffer.from('{"content_id":"k1"}'),
    value: Buffer.from('{"op":"c"}'),
    headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, Buffer.from(v)])),
  };
}

const failed = (worker: string, code: string, topic: string, failedAt: string) => ({
  [dlqHeaders.worker]: worker,
  [dlqHeaders.code]: code,
  [dlqHeaders.reason]: `${code} because`,
  [dlqHeaders.topic]: topic,
  [dlqHeaders.partition]: '3',
  [dlqHeaders.offset]: '17',
  [dlqHeaders.failedAt]: failedAt,
});

describe('dead letters', () => {
  it('round-trip: what sendToDlq writes, redrive puts back for the worker that failed it only', async () => {
    const sent: ProducerRecord[] = [];
    const producer = { send: async (r: ProducerRecord) => void sent.push(r) } as unknown as Producer;
    const original: RawRecord = {
      topic: 'koo.public.koos',
      partition: 3,
      offset: '17',
      key: Buffer.from('k'),
      value: Buffer.from('v'),
      timestamp: '0',
      headers: { traceparent: Buffer.from('00-abc-01') },
    };
    await sendToDlq(producer, 'koo.dlq', 'content', [
      { record: original, error: new KooError('VALIDATION_FAILED', 'koo names itself as its parent') },
    ]);
    const m = sent[0]!.messages[0]!;
    const entry = dlqEntryOf({
      partition: 1,
      offset: '9',
      key: m.key as Buffer,
      value: m.value as Buffer,
      headers: m.headers!,
    });
    expect(entry).toMatchObject({
      worker: 'content',
      code: 'VALIDATION_FAILED',
      reason: 'koo names itself as its parent',
      sourceTopic: 'koo.public.koos',
      sourcePartition: '3',
      sourceOffset: '17',
    });

    const { topic, message } = redriveMessageOf(entry);
    expect(topic).toBe('koo.public.koos');
    expect(message.key?.toString()).toBe('k');
    expect(message.value?.toString()).toBe('v');
    expect(Object.keys(message.headers).sort()).toEqual([
      'koo-redrive-for',
      'koo-redriven-from',
      'traceparent',
    ]);
    expect(message.headers[redrivenFromHeader]).toBe('1/9');
    const back: RawRecord = { ...original, headers: message.headers };
    expect(redriveTarget(back)).toBe('content'); // what the consumer runtime checks
  });

  it('a dead letter redriven and failed again is addressed anew', () => {
    const headers: IHeaders = {
      ...dlqRecord(0, failed('feed', 'INTERNAL', 't', '2026-11-27T00:00:00Z')).headers,
      [redriveForHeader]: 'content',
      [redrivenFromHeader]: '0/1',
    };
    const { message } = redriveMessageOf(dlqEntryOf({ ...dlqRecord(5, {}, 2), headers }));
    expect(message.headers).toEqual({ [redriveForHeader]: 'feed', [redrivenFromHeader]: '2/5' });
  });

  it('cannot be redriven without a source topic or a worker', () => {
    const noTopic = dlqEntryOf(dlqRecord(4, { [dlqHeaders.worker]: 'content' }));
    expect(redriveProblem(noTopic)).toBe('no koo-source-topic header');
    expect(() => redriveMessageOf(noTopic)).toThrow('dead letter 0/4 cannot be redriven');
    expect(redriveProblem(dlqEntryOf(dlqRecord(4, { [dlqHeaders.topic]: 't' })))).toBe(
      'no koo-worker header',
    );
  });

  const entries = [
    dlqEntryOf(dlqRecord(0, failed('content', 'DECODE_FAILED', 'koo.public.koos', '2026-11-27T10:00:00Z'))),
    dlqEntryOf(
      dlqRecord(1, failed('feed', 'VALIDATION_FAILED', 'koo.public.follows', '2026-11-27T08:00:00Z')),
    ),
    dlqEntryOf(
      dlqRecord(0, failed('content', 'VALIDATION_FAILED', 'koo.public.users', '2026-11-27T09:00:00Z'), 2),
    ),
    dlqEntryOf(dlqRecord(2, {})),
  ];

  it('filter by worker, code, source topic and time (all must hold)', () => {
    const offsets = (f: Parameters<typeof matchesDlqFilter>[1]) =>
      entries.filter((e) => matchesDlqFilter(e, f)).map((e) => `${e.record.partition}/${e.record.offset}`);
    expect(offsets({})).toEqual(['0/0', '0/1', '2/0', '0/2']);
    expect(offsets({ worker: 'content' })).toEqual(['0/0', '2/0']);
    expect(offsets({ worker: 'content', code: 'VALIDATION_FAILED' })).toEqual(['2/0']);
    expect(offsets({ topic: 'koo.public.follows' })).toEqual(['0/1']);
    // Without a readable failure time a dead letter is not "since" anything.
    expect(offsets({ since: Date.parse('2026-11-27T09:00:00Z') })).toEqual(['0/0', '2/0']);
  });

  it('list oldest failure first, unreadable times last, limited', () => {
    expect(oldestFirst(entries).map((e) => e.worker ?? '-')).toEqual(['feed', 'content', 'content', '-']);
    expect(oldestFirst(entries, 2).map((e) => e.record.offset)).toEqual(['1', '0']);
  });

  it('show as rows with a one-line, truncated reason, and as JSON', () => {
    const long = dlqEntryOf(dlqRecord(7, { [dlqHeaders.reason]: `bad\n${'x'.repeat(100)}` }));
    const [row] = dlqRows([long], 20);
    expect(row).toEqual({
      dlq: '0/7',
      'failed at': '',
      worker: '',
      source: '?/?/?',
      code: '',
      reason: `bad ${'x'.repeat(15)}…`,
    });
    const json = dlqJson({
      ...entries[0]!,
      record: { ...entries[0]!.record, value: Buffer.from([0, 2, 0xff]) },
    });
    expect(json.key).toEqual({ text: '{"content_id":"k1"}' });
    expect(json.value).toEqual({ base64: 'AAL/' });
    expect(json.headers[dlqHeaders.worker]).toBe('content');
    expect(json.dlq).toEqual({ partition: 0, offset: '0' });
  });

  it('are counted per worker and source topic', () => {
    expect(redriveCounts(entries.slice(0, 3).concat(entries[0]!))).toEqual([
      { worker: 'content', topic: 'koo.public.koos', records: 2 },
      { worker: 'content', topic: 'koo.public.users', records: 1 },
      { worker: 'feed', topic: 'koo.public.follows', records: 1 },
    ]);
  });
});

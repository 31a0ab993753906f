import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { describe, it, expect } from 'vitest';
import { stackEnv } from '../support/stack-env.ts';

// The local stack seen from outside the project's own code: kcat (librdkafka) lists the broker's
// topics and reads the Debezium change events that a PostgreSQL write produces, so the CDC
// contract (DESIGN.md, "Sources") is checked against the real connector, not against our fixtures.

const run = promisify(execFile);
const broker = stackEnv.kafkaBrokers.join(',');
const topic = 'koo.public.koos';

/** One line of `kcat -C -J`: the record's metadata with key and payload as strings (null = absent). */
interface KcatRecord {
  topic: string;
  partition: number;
  offset: number;
  ts: number;
  key: string | null;
  payload: string | null;
}

async function kcat(...args: string[]): Promise<string> {
  const { stdout } = await run('kcat', ['-b', broker, ...args], {
    maxBuffer: 64 * 1024 * 1024,
    timeout: 30_000,
  });
  return stdout;
}

async function psql(sql: string): Promise<void> {
  await run('psql', [stackEnv.pgUrl, '-v', 'ON_ERROR_STOP=1', '-qc', sql], { timeout: 10_000 });
}

/** Records of koo.public.koos written at or after `sinceMs`, across all partitions, up to the end. */
async function readSince(sinceMs: number): Promise<KcatRecord[]> {
  const out = await kcat('-C', '-t', topic, '-o', `s@${sinceMs}`, '-e', '-q', '-J');
  return out
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as KcatRecord);
}

/** Polls `probe` until it returns a value, or fails with `what` after the deadline. */
async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

describe('kcat against the local stack', () => {
  it('lists the CDC topics with their partitions', async () => {
    const metadata = JSON.parse(await kcat('-L', '-J')) as {
      topics: Array<{ topic: string; partitions: unknown[] }>;
    };
    const byName = new Map(metadata.topics.map((t) => [t.topic, t.partitions.length]));
    for (const name of ['koo.public.users', 'koo.public.koos', 'koo.public.follows']) {
      expect(byName.get(name), name).toBe(12);
    }
  });

  it('reads the change events of an insert and a delete, then the tombstone', async () => {
    const contentId = randomBytes(8).toString('hex');
    const creatorId = randomBytes(8).toString('hex');
    // Record timestamps come from the same clock; a second of slack covers the producer's rounding.
    const since = Date.now() - 1000;
    await psql(
      `insert into koos (content_id, creator_id, lang, body) values ('${contentId}', '${creatorId}', 'hi', 'kcat test')`,
    );
    await psql(`delete from koos where content_id = '${contentId}'`);

    const key = JSON.stringify({ content_id: contentId });
    const records = await waitFor('the create, delete and tombstone records', async () => {
      const mine = (await readSince(since)).filter((r) => r.key === key);
      return mine.length >= 3 ? mine : undefined;
    });

    // All events of one row share its key, hence one partition, in commit order.
    expect(new Set(records.map((r) => r.partition)).size).toBe(1);
    const [created, deleted, tombstone] = records.sort((a, b) => a.offset - b.offset);
    const c = JSON.parse(created!.payload!);
    expect(c.op).toBe('c');
    expect(c.before).toBeNull();
    expect(c.after).toMatchObject({
      content_id: contentId,
      creator_id: creatorId,
      lang: 'hi',
      parent_id: null,
    });
    expect(c.after.created_at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/);
    expect(c.source).toMatchObject({ connector: 'postgresql', db: 'koo', schema: 'public', table: 'koos' });
    expect(typeof c.source.lsn).toBe('number');
    expect(typeof c.source.txId).toBe('number');

    const d = JSON.parse(deleted!.payload!);
    expect(d.op).toBe('d');
    expect(d.after).toBeNull();
    expect(d.before).toMatchObject({ content_id: contentId });
    expect(d.source.lsn).toBeGreaterThan(c.source.lsn);

    expect(tombstone!.payload).toBeNull();
  });
});

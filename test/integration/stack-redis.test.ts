import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort, killService, privateStack, undoAfterAll } from '../support/private-stack.ts';

// Delayed notification jobs, retries in backoff and held digests live only in Redis, and the
// offsets of their events are committed: the stack's Redis must keep them through a crash. Its
// own Redis on a free port, so the one the other tests use is not touched.

describe("the stack's Redis", () => {
  const undo = undoAfterAll();

  it('keeps a delayed job through a SIGKILL and a restart (append-only file, no eviction)', async () => {
    const parent = await undo.tempDir('koo-redis-');
    const stackDir = join(parent, '.stack');
    const port = await freePort();
    const stack = privateStack({ KOO_STACK_DIR: stackDir, REDIS_PORT: String(port) }, 60_000);
    undo.push(() => stack('down', 'redis'));
    await stack('up', 'redis');

    const connection = { host: '127.0.0.1', port, maxRetriesPerRequest: null };
    const admin = new Redis(connection);
    undo.push(async () => admin.disconnect());
    const config = async (name: string) => ((await admin.config('GET', name)) as string[])[1];
    expect(await config('appendonly')).toBe('yes');
    expect(await config('appendfsync')).toBe('everysec');
    expect(await config('maxmemory-policy')).toBe('noeviction');

    const queue = new Queue('durable', { connection });
    await queue.add('digest', { recipient: 'u1' }, { jobId: 'digest-u1', delay: 3_600_000 });
    await queue.close();
    admin.disconnect();

    await killService(stackDir, 'redis');
    await stack('up', 'redis');

    const after = new Queue('durable', { connection });
    try {
      expect(await after.getJobState('digest-u1')).toBe('delayed');
      expect((await after.getJob('digest-u1'))?.data).toEqual({ recipient: 'u1' });
    } finally {
      await after.close();
    }
  });
});

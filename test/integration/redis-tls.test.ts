import { Queue } from 'bullmq';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/private-stack.ts';
import { waitFor } from '../support/wait-for.ts';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '../..');

// ElastiCache with in-transit encryption and AUTH, as the workers meet it: a Redis that speaks
// only TLS and wants a password, its certificate from a CA the process is told to trust
// (NODE_EXTRA_CA_CERTS; Amazon's CA is in Node's store already). Everything comes from REDIS_URL.
describe('Redis over TLS with AUTH, configured by REDIS_URL alone', () => {
  const password = randomBytes(18).toString('base64url');
  const queueName = `tls-${randomBytes(4).toString('hex')}`;
  let dir: string;
  let port: number;
  let redis: ReturnType<typeof spawn> | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'koo-redis-tls-'));
    await run('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
      '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    ]); // prettier-ignore
    port = await freePort();
    redis = spawn(
      'redis-server',
      [
        '--bind', '127.0.0.1', '--port', '0', '--tls-port', String(port),
        '--tls-cert-file', join(dir, 'cert.pem'), '--tls-key-file', join(dir, 'key.pem'),
        '--tls-ca-cert-file', join(dir, 'cert.pem'), '--tls-auth-clients', 'no',
        '--requirepass', password, '--save', '', '--appendonly', 'no',
      ], // prettier-ignore
      { stdio: 'ignore' },
    );
    const ca = await readFile(join(dir, 'cert.pem'));
    await waitFor(
      'the TLS Redis to answer',
      async () => {
        const probe = new Redis({
          host: '127.0.0.1',
          port,
          password,
          tls: { ca },
          lazyConnect: true,
          retryStrategy: () => null,
        });
        probe.on('error', () => {}); // refused until the server listens: the wait is the retry
        try {
          await probe.connect();
          return (await probe.ping()) === 'PONG';
        } catch {
          return false;
        } finally {
          probe.disconnect();
        }
      },
      { timeoutMs: 20_000, intervalMs: 200 },
    );
  });

  afterAll(async () => {
    redis?.kill('SIGKILL');
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const koo = (redisUrl: string) =>
    run(process.execPath, [resolve(root, 'apps/cli/koo.ts'), 'notify', 'status'], {
      cwd: root,
      env: {
        ...process.env,
        REDIS_URL: redisUrl,
        NOTIFY_QUEUE: queueName,
        NODE_EXTRA_CA_CERTS: join(dir, 'cert.pem'),
      },
      timeout: 30_000,
    });

  it('reads the BullMQ queue through rediss://:<token>@host', async () => {
    const ca = await readFile(join(dir, 'cert.pem'));
    const queue = new Queue(queueName, {
      connection: { host: '127.0.0.1', port, password, tls: { ca } },
      prefix: 'bull',
    });
    try {
      await queue.add('n', { hello: 'tls' }, { jobId: 'one' });
      await queue.add('n', { hello: 'tls' }, { jobId: 'two', delay: 60_000 });
    } finally {
      await queue.close();
    }
    const { stdout } = await koo(`rediss://:${password}@127.0.0.1:${port}`);
    expect(JSON.parse(stdout)).toMatchObject({ waiting: 1, delayed: 1 });
  });
});

import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll } from 'vitest';
import { waitFor } from './wait-for.ts';

const run = promisify(execFile);
const stackScript = fileURLToPath(new URL('../../infra/stack/stack.sh', import.meta.url));

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

/**
 * `npm run stack -- <args>` for a stack of its own: its directory and ports in `env`
 * (KOO_STACK_DIR, PG_PORT, REDIS_PORT, ...), so the stack the other tests use is not touched.
 */
export function privateStack(env: NodeJS.ProcessEnv, timeoutMs = 120_000) {
  return (...args: string[]) =>
    run('bash', [stackScript, ...args], { env: { ...process.env, ...env }, timeout: timeoutMs });
}

/**
 * Undo steps run after the file's tests, newest first, each whatever the others did: a test
 * registers how to undo what it set up (a directory, a service, a client) as soon as it exists.
 */
export function undoAfterAll(): {
  push: (step: () => Promise<unknown>) => void;
  tempDir: (prefix: string) => Promise<string>;
} {
  const steps: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const step of steps.reverse()) await step().catch(() => undefined);
  });
  const push = (step: () => Promise<unknown>) => void steps.push(step);
  /** A directory of its own under the system's temporary directory (mode 700), removed after. */
  const tempDir = async (prefix: string) => {
    const dir = await mkdtemp(join(tmpdir(), prefix));
    push(() => rm(dir, { recursive: true, force: true }));
    return dir;
  };
  return { push, tempDir };
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** SIGKILLs a service of a private stack (its pid file under `<stackDir>/run`) and waits until it is gone. */
export async function killService(stackDir: string, service: string): Promise<void> {
  const pid = Number(await readFile(join(stackDir, 'run', `${service}.pid`), 'utf8'));
  process.kill(pid, 'SIGKILL');
  await waitFor(`${service} to be gone`, () => !alive(pid));
}

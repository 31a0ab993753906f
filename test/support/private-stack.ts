import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

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

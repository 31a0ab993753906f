import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';
import { compileCacheEnv } from '../../apps/supervisor/supervisor.ts';
import { createLogger } from '../../shared/logging/logger.ts';
import type { HandlerContext } from '../../shared/runtime/worker-definition.ts';
import {
  runWorker,
  type RunningWorker,
  type WorkerConfig,
  type WorkerModule,
} from '../../shared/runtime/run-worker.ts';

const root = resolve(import.meta.dirname, '../..');

/** What the runtime hands a handler, for a test that calls a worker's `handle` itself: never aborted. */
export function handlerContext(): HandlerContext {
  return {
    logger: createLogger('test', 'error'),
    signal: new AbortController().signal,
    heartbeat: async () => {},
  };
}

/** Runs a worker in the test process (quiet logs, its own consumer group). */
export function startWorkerInProcess<C extends WorkerConfig, T>(
  module: WorkerModule<C, T>,
  env: Record<string, string>,
): Promise<RunningWorker> {
  return runWorker(module, { ownProcess: false, env: { ...process.env, LOG_LEVEL: 'warn', ...env } });
}

export interface WorkerProcess {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * A SIGKILLed member holds its partitions until its session times out: crash tests take the
 * broker's minimum (group.min.session.timeout.ms), so the next owner takes over in seconds.
 */
export const crashSessionTimeout = { SESSION_TIMEOUT_MS: '6000' };

/** Runs a worker as a child process, as ops would: for crash (SIGKILL) and shutdown tests. */
export function spawnWorker(worker: string, env: Record<string, string>): WorkerProcess {
  const child = spawn(process.execPath, [resolve(root, `workers/${worker}/main.ts`)], {
    cwd: root,
    env: { ...compileCacheEnv, ...process.env, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = once(child, 'exit').then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
  }));
  return { child, output: () => output, exited };
}

/** Replicas of one worker as child processes, for crash and shutdown tests; `killAll` ends whatever still runs. */
export function workerReplicas(worker: string, env: Record<string, string>) {
  const started: WorkerProcess[] = [];
  return {
    start: (overrides: Record<string, string> = {}): WorkerProcess => {
      const replica = spawnWorker(worker, { ...env, ...overrides });
      started.push(replica);
      return replica;
    },
    killAll: () => {
      for (const r of started) r.child.kill('SIGKILL');
    },
  };
}

import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { catalog, catalogEntry, type CatalogEntry } from '../../workers/catalog.ts';
import { backoffDelayMs } from '../../shared/runtime/backoff.ts';

const root = resolve(import.meta.dirname, '../..');
const EX_CONFIG = 78;

/**
 * Where a worker process keeps V8's compiled code of its modules between starts (Node's
 * NODE_COMPILE_CACHE; entries are keyed by the source's hash and Node's version): a replica that
 * is restarted or added loads its modules with about half the CPU (README, Operations). The
 * environment given to the process overrides it.
 */
export const compileCacheEnv = { NODE_COMPILE_CACHE: join(tmpdir(), 'koo-node-compile-cache') };

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** One running process of a worker. A replica that dies unasked is restarted in the same slot. */
export interface Replica {
  worker: string;
  /** Stable per worker while the replica is wanted: restarts keep it, scaling down frees the highest. */
  slot: number;
  /** The process in the slot now (changes on restart). */
  child: ChildProcess;
  /** Where its /healthz, /readyz and /metrics answer (0: a random port, see its log). */
  httpPort: number;
  restarts: number;
  exited: Promise<ExitStatus>;
}

export interface SupervisorOptions {
  /** Environment of every process (each inherits it, then gets HTTP_PORT). */
  env: NodeJS.ProcessEnv;
  /** First port of /healthz, /readyz, /metrics: worker i (catalog order), slot s listens on base + 100 i + s. 0: random ports. */
  httpPortBase: number;
  /** Every output line of every process, with who wrote it. */
  onLine?: (replica: Replica, line: string) => void;
  /** What happened to processes: started, exited, restarting, gave up. */
  onEvent?: (replica: Replica, event: string) => void;
  /** A graceful stop waits this long after SIGTERM before SIGKILL (above the workers' SHUTDOWN_TIMEOUT_MS). */
  stopGraceMs?: number;
}

/**
 * Runs workers as replicas, as a process manager (or Kubernetes) would for local runs and tests:
 * scale up and down, restart a replica that dies (with capped backoff, like a pod's
 * CrashLoopBackOff), and stop gracefully (SIGTERM, then SIGKILL after a grace period). A replica
 * that exits with the configuration error code is not restarted: it would fail the same way.
 */
export class Supervisor {
  private readonly replicasOf = new Map<string, Replica[]>();
  private readonly stopping = new Set<Replica>();
  private readonly options: Required<Omit<SupervisorOptions, 'onLine' | 'onEvent'>> &
    Pick<SupervisorOptions, 'onLine' | 'onEvent'>;
  /** Rejected once a replica fails its configuration: the run cannot be what was asked. */
  readonly configFailure: Promise<never>;
  private failConfig!: (err: Error) => void;
  private closed = false;

  constructor(options: SupervisorOptions) {
    this.options = { stopGraceMs: 12_000, ...options };
    this.configFailure = new Promise<never>((_, reject) => (this.failConfig = reject));
    this.configFailure.catch(() => undefined); // observed by whoever awaits it
  }

  replicas(worker?: string): Replica[] {
    if (worker) return [...(this.replicasOf.get(worker) ?? [])];
    return [...this.replicasOf.values()].flat();
  }

  /** Starts or gracefully stops replicas until `worker` has `count`; resolves when the stopped ones have exited. */
  async scale(worker: string, count: number): Promise<void> {
    const entry = catalogEntry(worker);
    const replicas = this.replicasOf.get(worker) ?? [];
    this.replicasOf.set(worker, replicas);
    while (replicas.length < count) {
      const used = new Set(replicas.map((r) => r.slot));
      let slot = 0;
      while (used.has(slot)) slot++;
      replicas.push(this.launch(entry, slot, 0));
    }
    replicas.sort((a, b) => a.slot - b.slot);
    const excess = replicas.splice(count);
    await Promise.all(excess.map((r) => this.stopReplica(r)));
  }

  /**
   * SIGTERM to one replica, SIGKILL after the grace period; it is not restarted and its slot is
   * freed. Resolves with how long it took to exit.
   */
  async stopReplica(replica: Replica): Promise<{ ms: number; status: ExitStatus }> {
    const replicas = this.replicasOf.get(replica.worker) ?? [];
    const at = replicas.indexOf(replica);
    if (at >= 0) replicas.splice(at, 1);
    this.stopping.add(replica);
    const started = performance.now();
    const exited = replica.exited;
    if (replica.child.exitCode === null && replica.child.signalCode === null) replica.child.kill('SIGTERM');
    const force = setTimeout(() => replica.child.kill('SIGKILL'), this.options.stopGraceMs);
    const status = await exited;
    clearTimeout(force);
    return { ms: performance.now() - started, status };
  }

  /** Sends a signal as a crash would (SIGKILL: the machine died); the supervisor restarts the replica. */
  signal(replica: Replica, signal: NodeJS.Signals): void {
    replica.child.kill(signal);
  }

  /** Stops every replica gracefully, all at once. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.replicas().map((r) => this.stopReplica(r)));
  }

  private launch(entry: CatalogEntry, slot: number, restarts: number): Replica {
    const index = catalog.indexOf(entry);
    const port = this.options.httpPortBase === 0 ? 0 : this.options.httpPortBase + 100 * index + slot;
    const child = spawn(process.execPath, [resolve(root, entry.main)], {
      cwd: root,
      env: { ...compileCacheEnv, ...this.options.env, HTTP_PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = once(child, 'exit').then(([code, signal]) => ({
      code: code as number | null,
      signal: signal as NodeJS.Signals | null,
    }));
    const replica: Replica = { worker: entry.name, slot, child, httpPort: port, restarts, exited };
    for (const stream of [child.stdout!, child.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => this.options.onLine?.(replica, line));
    }
    this.options.onEvent?.(replica, `started (pid ${child.pid}${port ? `, http ${port}` : ''})`);
    void exited.then((status) => this.onExit(entry, replica, status));
    return replica;
  }

  private onExit(entry: CatalogEntry, replica: Replica, status: ExitStatus): void {
    const how = status.signal ? `killed by ${status.signal}` : `exited with ${status.code}`;
    if (this.stopping.delete(replica) || this.closed) {
      this.options.onEvent?.(replica, `stopped (${how})`);
      return;
    }
    const replicas = this.replicasOf.get(entry.name) ?? [];
    if (!replicas.includes(replica)) return;
    if (status.code === EX_CONFIG) {
      replicas.splice(replicas.indexOf(replica), 1);
      this.options.onEvent?.(replica, `${how}: configuration error, not restarted`);
      this.failConfig(new Error(`${entry.name}: invalid configuration (see its output above)`));
      return;
    }
    // Capped exponential backoff: a replica that keeps dying does not spin.
    const delay = 500 + backoffDelayMs(replica.restarts, 500, 30_000);
    this.options.onEvent?.(replica, `${how}; restarting in ${(delay / 1000).toFixed(1)} s`);
    const timer = setTimeout(() => {
      const at = replicas.indexOf(replica); // gone when scaled down or stopped meanwhile
      if (this.closed || at < 0) return;
      replicas[at] = this.launch(entry, replica.slot, replica.restarts + 1);
    }, delay);
    timer.unref();
  }
}

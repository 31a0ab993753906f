import { AsyncLocalStorage } from 'node:async_hooks';
import { errorMessage, KooError } from '../errors/koo-error.ts';
import type { Logger } from '../logging/logger.ts';

/**
 * Aborted once this process has been told to stop (SIGTERM/SIGINT). Retry loops of sinks give up
 * at once instead of holding the shutdown past its deadline: the batch they served is not
 * committed and is redelivered to the partition's next owner.
 */
export const processShutdown = new AbortController();

const stoppableWork = new AsyncLocalStorage<AbortSignal>();

/**
 * Runs `work` (a worker's handler) so that every sink request it makes, and every retry wait,
 * ends when `signal` aborts (this member must rejoin a rebalance) as well as at shutdown: the
 * member then rejoins within a heartbeat instead of after its requests' retries, and the batch is
 * redone by the partition's owner (effects are fenced or idempotent).
 */
export function runStoppable<T>(signal: AbortSignal, work: () => Promise<T>): Promise<T> {
  return stoppableWork.run(AbortSignal.any([signal, processShutdown.signal]), work);
}

/**
 * Runs `work` that serves several handlers at once (a lake commit of many partitions' segments)
 * outside the stoppable work of the handler that happened to start it: one handler's rebalance
 * must not fail the others' part; shutdown still ends it.
 */
export function runShared<T>(work: () => Promise<T>): Promise<T> {
  return stoppableWork.exit(work);
}

/** What ends the sink requests made here: the handler's signal inside `runStoppable`, the process's shutdown elsewhere. */
export function stopSignal(): AbortSignal {
  return stoppableWork.getStore() ?? processShutdown.signal;
}

/**
 * Once the work a request serves is stopped (the process is shutting down, or the member must
 * rejoin a rebalance: `stopSignal`), no request starts and none is waited for: the batch is left
 * uncommitted for the partition's owner, and every write of the pipeline is idempotent or fenced,
 * so a write that lands after all is harmless. Without this a handler's remaining writes (a chunk
 * over a thousand koos against a slow table) run past the shutdown deadline or the rebalance timeout.
 */
export function stopped(what: string, cause?: unknown): KooError {
  return new KooError('SHUTTING_DOWN', `${what} abandoned: its work was stopped`, {
    retriable: true,
    cause,
  });
}

/** `request`'s outcome, or `stopped(what)` as soon as `signal` aborts (the request itself goes on). */
export function untilStopped<T>(request: Promise<T>, what: string, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const abandon = () => reject(stopped(what));
    if (signal.aborted) abandon();
    signal.addEventListener('abort', abandon, { once: true });
    request.then(resolve, reject).finally(() => signal.removeEventListener('abort', abandon));
  });
}

/**
 * The configuration, or for a process of its own an exit naming the bad value (EX_CONFIG, 78),
 * so that a supervisor or Kubernetes shows why it does not start. In a test process it throws.
 */
export function configOrExit<C>(name: string, ownProcess: boolean, load: () => C): C {
  try {
    return load();
  } catch (err) {
    if (!ownProcess) throw err;
    process.stderr.write(`${name}: ${errorMessage(err)}\n`);
    process.exit(78);
  }
}

/**
 * SIGTERM and SIGINT close the process gracefully, within `shutdownTimeoutMs` or exit 1 with
 * the work in flight left uncommitted (it is redelivered). `on`, not `once`: Ctrl-C reaches every
 * process of the terminal's group and a supervisor then sends SIGTERM too; a second signal must
 * not cut a graceful shutdown short.
 */
export function exitOnSignals(logger: Logger, shutdownTimeoutMs: number, close: () => Promise<void>): void {
  let signalled = false;
  const onSignal = (signal: string) => {
    logger.info({ signal }, 'signal received');
    if (signalled) return;
    signalled = true;
    processShutdown.abort();
    const deadline = setTimeout(() => {
      logger.error(
        { timeoutMs: shutdownTimeoutMs },
        'shutdown timed out; exiting with uncommitted work (it will be redelivered)',
      );
      process.exit(1);
    }, shutdownTimeoutMs);
    deadline.unref();
    void close().then(() => process.exit(0));
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

import { backoffDelayMs, sleep } from './backoff.ts';

export interface RetryPolicy {
  /** Ceiling of the first delay; each attempt doubles it up to `capMs` (full jitter below it). */
  baseMs: number;
  capMs: number;
  /** How long after the first attempt retries go on; Infinity retries until the signal aborts. */
  budgetMs: number;
}

/** Sink requests: short delays, given up after the configured SINK_RETRY_MAX_MS. */
export const sinkRetryPolicy = (budgetMs: number): RetryPolicy => ({ baseMs: 50, capMs: 5_000, budgetMs });

/** A partition's batch: it waits for as long as it takes (nothing is skipped), until shutdown or rebalance. */
export const batchRetryPolicy: RetryPolicy = { baseMs: 200, capMs: 10_000, budgetMs: Infinity };

/**
 * The one retry loop of the pipeline: capped exponential backoff with full jitter (the AWS
 * architecture blog's recommendation), bounded by a time budget and cut short by a signal
 * (shutdown, a rebalance), so that no retry holds a partition or a shutdown past its owner.
 */
export class Retries {
  private attempt = 0;
  private readonly started = Date.now();
  private readonly policy: RetryPolicy;
  private readonly signal: AbortSignal | undefined;

  constructor(policy: RetryPolicy, signal?: AbortSignal) {
    this.policy = policy;
    this.signal = signal;
  }

  /** Attempts that have failed so far. */
  get failures(): number {
    return this.attempt;
  }

  /**
   * Waits before the next attempt (`onDelay` is told how long first). Resolves false, without
   * waiting, once the budget is spent, and false after the wait when the signal aborted it:
   * either way the caller gives up.
   */
  async wait(onDelay?: (delayMs: number, attempt: number) => void): Promise<boolean> {
    if (this.signal?.aborted || Date.now() - this.started > this.policy.budgetMs) return false;
    const attempt = this.attempt++;
    const delayMs = backoffDelayMs(attempt, this.policy.baseMs, this.policy.capMs);
    onDelay?.(delayMs, attempt);
    await sleep(delayMs, this.signal);
    return !this.signal?.aborted;
  }
}

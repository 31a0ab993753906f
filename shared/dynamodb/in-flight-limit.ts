/**
 * How many requests one client keeps in flight to a sink, adapted to how the sink answers (AIMD,
 * as TCP does): a timeout or a transient failure halves the limit, down to one request, which then
 * probes alone; each success doubles it back up to `max`. A paused or slow DynamoDB so gets one
 * request at a time instead of every partition's retries piling timeouts onto it, and the full
 * rate returns within a few answers once it is back. Requests over the limit wait here, before
 * they are sent, so their wait is not a request timeout.
 */
export class InFlightLimit {
  readonly max: number;
  private current: number;
  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(max: number) {
    this.max = max;
    this.current = max;
  }

  get limit(): number {
    return this.current;
  }

  /**
   * Waits for a slot; `signal` (shutdown, rebalance) lets its waiters through at once, to fail fast
   * on their own, and takes them out of the queue: a slot freed later goes to a waiter still there.
   */
  async acquire(signal?: AbortSignal): Promise<void> {
    while (this.inFlight >= this.current && !signal?.aborted) {
      await new Promise<void>((resolve) => {
        const wake = () => {
          signal?.removeEventListener('abort', leave);
          resolve();
        };
        const leave = () => {
          const at = this.waiting.indexOf(wake);
          if (at >= 0) this.waiting.splice(at, 1);
          resolve();
        };
        this.waiting.push(wake);
        signal?.addEventListener('abort', leave, { once: true });
      });
    }
    this.inFlight++;
  }

  /** Gives the slot back; `answered` is false for a timeout or a transient failure of the sink. */
  release(answered: boolean): void {
    this.current = answered
      ? Math.min(this.max, this.current * 2)
      : Math.max(1, Math.floor(this.current / 2));
    this.abandon();
  }

  /** Gives back the slot of a request that was stopped before it got an answer: it says nothing about the sink. */
  abandon(): void {
    this.inFlight--;
    for (let free = this.current - this.inFlight; free > 0 && this.waiting.length > 0; free--)
      this.waiting.shift()!();
  }
}

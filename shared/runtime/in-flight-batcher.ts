/**
 * Requests that share one in-flight call: the first is sent at once, and those made while a call
 * is in flight wait for it and go out together in the next (up to `maxBatch` to a call). A lone
 * request pays no wait; a burst shares calls. A failed call fails the requests it carried, and
 * the next ones are still sent.
 * Requests with the same `keyOf` waiting together are one: the later replaces the earlier (both
 * settle with the call that carried it).
 */
export class InFlightBatcher<T> {
  private waiting = new Map<
    unknown,
    { item: T; settle: Array<{ done: () => void; failed: (err: unknown) => void }> }
  >();
  private inFlight = false;
  private readonly send: (items: T[]) => Promise<void>;
  private readonly maxBatch: number;
  private readonly keyOf: (item: T) => unknown;

  constructor(
    send: (items: T[]) => Promise<void>,
    options: { maxBatch?: number; keyOf?: (item: T) => unknown } = {},
  ) {
    this.send = send;
    this.maxBatch = options.maxBatch ?? Infinity;
    this.keyOf = options.keyOf ?? (() => Symbol());
  }

  /** Resolves once a call carrying `item` succeeded; rejects with that call's error. */
  add(item: T): Promise<void> {
    return new Promise((done, failed) => {
      const key = this.keyOf(item);
      const settle = [...(this.waiting.get(key)?.settle ?? []), { done, failed }];
      this.waiting.delete(key); // set again below, at the back: it is the newest request
      this.waiting.set(key, { item, settle });
      void this.sendWaiting();
    });
  }

  private async sendWaiting(): Promise<void> {
    if (this.inFlight || this.waiting.size === 0) return;
    this.inFlight = true;
    const batch = [...this.waiting].slice(0, this.maxBatch);
    for (const [key] of batch) this.waiting.delete(key);
    try {
      await this.send(batch.map(([, w]) => w.item));
      for (const [, w] of batch) for (const s of w.settle) s.done();
    } catch (err) {
      for (const [, w] of batch) for (const s of w.settle) s.failed(err);
    } finally {
      this.inFlight = false;
    }
    void this.sendWaiting();
  }
}

import type { Item } from '../../shared/dynamodb/batch-writer.ts';
import { KooError } from '../../shared/errors/koo-error.ts';
import { Retries } from '../../shared/runtime/retry.ts';
import type { LedgerEntry, NotifyLedger } from '../notify/notify-ledger.ts';

/** DynamoDB's limit on the items of one BatchWriteItem. */
const BATCH_WRITE_ITEMS = 25;

interface Unwritten {
  item: Item;
  done: () => void;
  failed: (err: unknown) => void;
}

/**
 * Writes the sender's finished jobs to the ledger, one BatchWriteItem at a time: the jobs that
 * finish while a write is in flight go together in the next one (up to 25), so a lone job is
 * written at once and a burst shares requests. A PutItem per job, awaited by each of the sender's
 * 16 concurrent jobs, made the ledger the sender's bottleneck when the transport is fast (1.2 s
 * from due to delivered at the median with 2,280 jobs due together, `npm run bench -- notify`).
 * Items DynamoDB leaves unprocessed are written again after the client's backoff; a failed
 * request fails the records it carried.
 */
export class LedgerRecorder {
  private readonly ledger: NotifyLedger;
  private readonly unwritten: Unwritten[] = [];
  private writing = false;

  constructor(ledger: NotifyLedger) {
    this.ledger = ledger;
  }

  record(entry: LedgerEntry): Promise<void> {
    return new Promise<void>((done, failed) => {
      this.unwritten.push({ item: this.ledger.itemOf(entry), done, failed });
      if (!this.writing) void this.writeAll();
    });
  }

  private async writeAll(): Promise<void> {
    this.writing = true;
    // Throttled items (left unprocessed) wait with the client's retry policy, as batchWrite's do.
    let throttled: Retries | undefined;
    while (this.unwritten.length > 0) {
      const entries = this.unwritten.splice(0, BATCH_WRITE_ITEMS);
      try {
        const keyOf = (item: Item) => `${item.id}/${item.job}`;
        const left = new Set((await this.ledger.write(entries.map((e) => e.item))).map(keyOf));
        const again = entries.filter((e) => left.has(keyOf(e.item)));
        for (const e of entries) if (!left.has(keyOf(e.item))) e.done();
        if (again.length === 0) {
          throttled = undefined;
          continue;
        }
        throttled ??= new Retries(this.ledger.retryPolicy);
        if (await throttled.wait()) this.unwritten.unshift(...again);
        else
          for (const e of again)
            e.failed(new KooError('SINK_THROTTLED', 'ledger writes stayed unprocessed', { retriable: true }));
      } catch (err) {
        for (const e of entries) e.failed(err);
      }
    }
    this.writing = false;
  }
}

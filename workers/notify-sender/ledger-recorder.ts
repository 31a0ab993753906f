import type { Item } from '../../shared/dynamodb/batch-writer.ts';
import { InFlightBatcher } from '../../shared/runtime/in-flight-batcher.ts';
import type { LedgerEntry, NotifyLedger } from '../notify/notify-ledger.ts';

/** DynamoDB's limit on the items of one BatchWriteItem. */
const BATCH_WRITE_ITEMS = 25;

/**
 * Writes the sender's finished jobs to the ledger: the jobs that finish while a write is in flight
 * go together in the next BatchWriteItem (up to 25), so a lone job is written at once and a burst
 * shares requests. A PutItem per job, awaited by each of the sender's 16 concurrent jobs, made the
 * ledger the sender's bottleneck when the transport is fast (1.2 s from due to delivered at the
 * median with 2,280 jobs due together, `npm run bench -- notify`).
 */
export class LedgerRecorder {
  private readonly ledger: NotifyLedger;
  private readonly writes: InFlightBatcher<Item>;

  constructor(ledger: NotifyLedger) {
    this.ledger = ledger;
    this.writes = new InFlightBatcher((items) => ledger.write(items), { maxBatch: BATCH_WRITE_ITEMS });
  }

  record(entry: LedgerEntry): Promise<void> {
    return this.writes.add(this.ledger.itemOf(entry));
  }
}

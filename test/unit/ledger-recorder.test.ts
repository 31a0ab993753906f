import { describe, expect, it } from 'vitest';
import type { Item } from '../../shared/dynamodb/batch-writer.ts';
import type { LedgerEntry, NotifyLedger } from '../../workers/notify/notify-ledger.ts';
import { LedgerRecorder } from '../../workers/notify-sender/ledger-recorder.ts';

/** A ledger whose writes answer as scripted: each call takes the next answer (nothing, or an error). */
function scriptedLedger(answers: (Error | undefined)[]) {
  const writes: string[][] = [];
  const ledger = {
    itemOf: (e: LedgerEntry) => ({ id: 'ns#1#0', job: e.jobId }),
    write: async (items: readonly Item[]) => {
      writes.push(items.map((i) => i.job as string));
      const answer = answers.shift();
      if (answer) throw answer;
    },
  };
  return { ledger: ledger as unknown as NotifyLedger, writes };
}

const entry = (jobId: string): LedgerEntry => ({
  jobId,
  recipient: 'r',
  kind: 'aggregate',
  view: '{}',
  finishedAtMs: 0,
});

describe('the sender’s ledger recorder', () => {
  it('writes a lone job at once, and the jobs finished during a write together, at most 25 a request', async () => {
    const { ledger, writes } = scriptedLedger([]);
    const recorder = new LedgerRecorder(ledger);
    await Promise.all(Array.from({ length: 30 }, (_, i) => recorder.record(entry(`j${i}`))));
    expect(writes.map((w) => w.length)).toEqual([1, 25, 4]);
  });

  it('fails the records of a request that failed, not the others', async () => {
    const { ledger } = scriptedLedger([new Error('DynamoDB down')]);
    const recorder = new LedgerRecorder(ledger);
    const first = recorder.record(entry('a'));
    await expect(first).rejects.toThrow('DynamoDB down');
    await expect(recorder.record(entry('b'))).resolves.toBeUndefined();
  });
});

import { describe, expect, it } from 'vitest';
import { resumeOf } from '../../workers/notify/redis-loss.ts';

describe('where a notify partition resumes after Redis lost its state', () => {
  const firstStart = { id: 'e1', rewindFromMs: null };
  const afterLoss = { id: 'e2', rewindFromMs: 1_700_000_000_000 };

  it('goes on from where it is on a first start, and from the rewind time after a loss', () => {
    expect(resumeOf(firstStart, undefined, 500n)).toBeUndefined();
    expect(resumeOf(afterLoss, undefined, 500n)).toEqual({ fromTimeMs: afterLoss.rewindFromMs });
  });

  it('goes on from what it applied in the epoch, or back to it when the chunk starts past it', () => {
    expect(resumeOf(afterLoss, 500n, 500n)).toBeUndefined();
    // A redelivery from before what was applied: the effects are idempotent.
    expect(resumeOf(afterLoss, 500n, 420n)).toBeUndefined();
    // A member applied up to 500 and died; the offset committed before the loss was 900.
    expect(resumeOf(afterLoss, 500n, 900n)).toEqual({ fromOffset: 500n });
  });
});

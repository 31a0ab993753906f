import { describe, expect, it } from 'vitest';
import { topicNames } from '../../schemas/topics.ts';
import type { DecaySettings } from '../../workers/engagement/decay.ts';
import {
  eventsPerKoo,
  fenceAttribute,
  planScoreWrite,
  storedScoreOf,
  weightOf,
  type EngagementKind,
  type SourcedEvent,
} from '../../workers/engagement/decide.ts';
import { decodeKooChange } from '../../workers/engagement/engagement-worker.ts';
import { envelope, kooRow, rawRecord } from '../support/cdc-events.ts';

const HOUR = 3_600_000;
const decay: DecaySettings = { halfLifeMs: HOUR, landmarkPeriodMs: 4 * HOUR };
const weights = { like: 1, share: 3, rekoo: 2, reply: 4 };
const L = Date.UTC(2026, 10, 27);
const ev = (kind: EngagementKind, timeMs: number, offset: number, contentId = 'k1'): SourcedEvent => ({
  event: { contentId, kind, timeMs },
  offset,
});

describe('score writes of a batch', () => {
  it('adds the weighted contributions of a new koo at the landmark of its latest event', () => {
    const w = planScoreWrite(
      'k1',
      [ev('like', L, 5), ev('share', L + HOUR, 6), ev('reply', L + 2 * HOUR, 9)],
      storedScoreOf(undefined, 'efr0'),
      'efr0',
      weights,
      decay,
    )!;
    expect(w.landmarkMs).toBe(L);
    expect(w.change).toEqual({ kind: 'add', delta: 1 + 3 * 2 + 4 * 4, landmarkFrom: undefined });
    expect(w.fence).toEqual({ attribute: 'efr0', from: undefined, to: 9 });
  });

  it('takes back a like with an unlike of the same time', () => {
    const w = planScoreWrite(
      'k1',
      [ev('like', L + HOUR, 1), ev('unlike', L + HOUR, 2)],
      storedScoreOf(undefined, 'efr0'),
      'efr0',
      weights,
      decay,
    )!;
    expect(w.change).toMatchObject({ kind: 'add', delta: 0 });
  });

  it('skips what the fence shows applied, and writes nothing when all of it was', () => {
    const stored = storedScoreOf({ id: 'k1', es: 1, lm: L, ev: 1, efr0: 6 }, 'efr0');
    const batch = [ev('like', L, 5), ev('share', L + HOUR, 6), ev('rekoo', L, 7)];
    const w = planScoreWrite('k1', batch, stored, 'efr0', weights, decay)!;
    expect(w.change).toEqual({ kind: 'add', delta: 2, landmarkFrom: L });
    expect(w.fence).toEqual({ attribute: 'efr0', from: 6, to: 7 });
    expect(planScoreWrite('k1', batch.slice(0, 2), stored, 'efr0', weights, decay)).toBeUndefined();
  });

  it('moves the landmark forward by re-basing what is stored, conditioned on the write count', () => {
    const stored = storedScoreOf({ id: 'k1', es: 16, lm: L, ev: 3 }, 'efk2');
    const w = planScoreWrite('k1', [ev('like', L + 4 * HOUR, 40)], stored, 'efk2', weights, decay)!;
    expect(w.landmarkMs).toBe(L + 4 * HOUR);
    expect(w.change).toEqual({ kind: 'set', score: 16 / 16 + 1, versionFrom: 3 });
  });

  it('never moves the landmark back for a late event', () => {
    const stored = storedScoreOf({ id: 'k1', es: 1, lm: L + 4 * HOUR, ev: 1 }, 'efr0');
    const w = planScoreWrite('k1', [ev('like', L, 1)], stored, 'efr0', weights, decay)!;
    expect(w.landmarkMs).toBe(L + 4 * HOUR);
    expect(w.change).toEqual({ kind: 'add', delta: 1 / 16, landmarkFrom: L + 4 * HOUR });
  });

  it('fences each source partition separately and groups a batch per koo in offset order', () => {
    expect(fenceAttribute(topicNames.reactions, 3)).toBe('efr3');
    expect(fenceAttribute(topicNames.koos, 11)).toBe('efk11');
    const grouped = eventsPerKoo([ev('like', L, 1, 'a'), ev('like', L, 2, 'b'), ev('share', L, 3, 'a')]);
    expect([...grouped.get('a')!].map((e) => e.offset)).toEqual([1, 3]);
  });
});

describe('replies as engagement', () => {
  const reply = (op: 'c' | 'u' | 'r' | 'd', parent: string | null) =>
    rawRecord(
      topicNames.koos,
      envelope(
        'koos',
        op,
        op === 'd' ? kooRow('r1', { parent_id: parent }) : null,
        op === 'd' ? null : kooRow('r1', { parent_id: parent }),
        10,
      ),
    );

  it('counts a new reply for its parent at the reply creation time', () => {
    expect(decodeKooChange(reply('c', 'p1'))).toEqual({
      contentId: 'p1',
      kind: 'reply',
      timeMs: Date.parse('2026-11-27T08:00:00Z'),
    });
    expect(decodeKooChange(reply('r', 'p1'))?.contentId).toBe('p1');
  });

  it('ignores root koos, edits and tombstones', () => {
    expect(decodeKooChange(reply('c', null))).toBeNull();
    expect(decodeKooChange(reply('u', 'p1'))).toBeNull();
    expect(decodeKooChange(rawRecord(topicNames.koos, null))).toBeNull();
  });

  it('retracts a deleted koo itself, for good, with no weight', () => {
    expect(decodeKooChange(reply('d', 'p1'))).toMatchObject({ contentId: 'r1', kind: 'delete' });
    expect(weightOf('delete', weights)).toBe(0);
    const stored = { score: 3, landmarkMs: 0, version: 2, fence: 4 };
    const w = planScoreWrite(
      'r1',
      [ev('like', 10, 5, 'r1'), ev('delete', 10, 6, 'r1')],
      stored,
      'efk0',
      weights,
      decay,
    )!;
    expect(w.retract).toBe(true);
    expect(
      planScoreWrite('r1', [ev('like', 10, 7, 'r1')], { ...stored, fence: 6 }, 'efk0', weights, decay)!
        .retract,
    ).toBe(
      false, // later writes leave the stored mark as it is
    );
  });
});

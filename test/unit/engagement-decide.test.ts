import { describe, expect, it } from 'vitest';
import { topicNames } from '../../schemas/topics.ts';
import type { DecaySettings } from '../../workers/engagement/decay.ts';
import {
  eventsPerKoo,
  fenceAttribute,
  pairItemOf,
  pairStateOf,
  planKoo,
  replyStateKey,
  storedScoreOf,
  type StoredScore,
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
/** A reaction of a user (it weighs by what it changes of the user's state). */
const by = (userId: string, e: SourcedEvent): SourcedEvent => ({ ...e, event: { ...e.event, userId } });

/** The score write of a batch that makes one step (events without users' states). */
const planScoreWrite = (id: string, events: SourcedEvent[], stored: StoredScore, fence: string) =>
  planKoo(id, events, stored, fence, new Map(), weights, decay)[0]?.score;

describe('score writes of a batch', () => {
  it('adds the weighted contributions of a new koo at the landmark of its latest event', () => {
    const w = planScoreWrite(
      'k1',
      [ev('like', L, 5), ev('share', L + HOUR, 6), ev('reply', L + 2 * HOUR, 9)],
      storedScoreOf(undefined, 'efr0'),
      'efr0',
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
    )!;
    expect(w.change).toMatchObject({ kind: 'add', delta: 0 });
  });

  it('skips what the fence shows applied, and writes nothing when all of it was', () => {
    const stored = storedScoreOf({ id: 'k1', es: 1, lm: L, ev: 1, efr0: 6 }, 'efr0');
    const batch = [ev('like', L, 5), ev('share', L + HOUR, 6), ev('rekoo', L, 7)];
    const w = planScoreWrite('k1', batch, stored, 'efr0')!;
    expect(w.change).toEqual({ kind: 'add', delta: 2, landmarkFrom: L });
    expect(w.fence).toEqual({ attribute: 'efr0', from: 6, to: 7 });
    expect(planScoreWrite('k1', batch.slice(0, 2), stored, 'efr0')).toBeUndefined();
  });

  it('moves the landmark forward by re-basing what is stored, conditioned on the write count', () => {
    const stored = storedScoreOf({ id: 'k1', es: 16, lm: L, ev: 3 }, 'efk2');
    const w = planScoreWrite('k1', [ev('like', L + 4 * HOUR, 40)], stored, 'efk2')!;
    expect(w.landmarkMs).toBe(L + 4 * HOUR);
    expect(w.change).toEqual({ kind: 'set', score: 16 / 16 + 1, versionFrom: 3 });
  });

  it('never moves the landmark back for a late event', () => {
    const stored = storedScoreOf({ id: 'k1', es: 1, lm: L + 4 * HOUR, ev: 1 }, 'efr0');
    const w = planScoreWrite('k1', [ev('like', L, 1)], stored, 'efr0')!;
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

describe("a reaction weighs what it changes of its user's state", () => {
  const fresh = storedScoreOf(undefined, 'efr0');
  const plan = (events: SourcedEvent[], pairs = new Map(), maxPairs?: number) =>
    planKoo('k1', events, fresh, 'efr0', pairs, weights, decay, maxPairs);

  it('counts a repeated like, share or rekoo once (an app retry, a double tap), and stores the states', () => {
    const [step] = plan([
      by('u1', ev('like', L, 1)),
      by('u1', ev('like', L, 2)),
      by('u2', ev('share', L, 3)),
      by('u2', ev('share', L + HOUR, 4)),
      by('u3', ev('rekoo', L, 5)),
      by('u3', ev('rekoo', L, 6)),
    ]);
    expect(step!.score.change).toEqual({ kind: 'add', delta: 1 + 3 + 2, landmarkFrom: undefined });
    expect(step!.score.fence.to).toBe(6);
    expect(step!.pairs.map((p) => [p.userId, p.state.flags])).toEqual([
      ['u1', 1],
      ['u2', 2],
      ['u3', 4],
    ]);
  });

  it('takes back only a like that stands; a like again after an unlike counts once, at its time', () => {
    const [step] = plan([
      by('u1', ev('unlike', L, 1)), // nothing to take back
      by('u2', ev('like', L, 2)),
      by('u2', ev('unlike', L + HOUR, 3)),
      by('u2', ev('like', L + 2 * HOUR, 4)),
    ]);
    expect(step!.score.change).toMatchObject({ kind: 'add', delta: 4 }); // u2's like at L + 2 h: 2^2
    expect(step!.pairs.find((p) => p.userId === 'u1')!.state).toEqual({
      flags: 0,
      likeClock: { time: L, offset: 1 },
    });
  });

  it('adds nothing for a like the stored state already counts, and stores only states that changed', () => {
    const pairs = new Map([['u1', { flags: 1, likeClock: { time: L, offset: 1 } }]]);
    const [step] = plan([by('u1', ev('like', L, 9))], pairs);
    expect(step!.score.change).toMatchObject({ kind: 'add', delta: 0 });
    expect(step!.score.fence.to).toBe(9); // the fence still moves past it
    expect(step!.pairs[0]!.state.likeClock).toEqual({ time: L, offset: 9 }); // the later like now decides
    // An older unlike that arrives late loses to the stored, later like: nothing changes.
    const [late] = plan([by('u1', ev('unlike', L - HOUR, 10))], pairs);
    expect(late!.score.change).toMatchObject({ delta: 0 });
    expect(late!.pairs).toEqual([]);
  });

  it('scores the same whatever order the reactions arrive in (the standing reactions, decayed)', () => {
    const events = [
      by('u1', ev('like', L, 1)),
      by('u1', ev('unlike', L + HOUR, 2)),
      by('u1', ev('share', L + 2 * HOUR, 3)),
      by('u1', ev('share', L + HOUR, 4)),
      by('u2', ev('rekoo', L, 5)),
      by('u2', ev('like', L + 2 * HOUR, 6)),
    ];
    const scoreOf = (list: SourcedEvent[]) => {
      const change = plan(list)[0]!.score.change;
      return change.kind === 'add' ? change.delta : NaN;
    };
    // u1: the like taken back, shared first at L + 1 h (3 * 2); u2: rekoo at L (2), like at L + 2 h (4).
    expect(scoreOf(events)).toBeCloseTo(6 + 2 + 4, 12);
    expect(scoreOf([...events].reverse())).toBeCloseTo(6 + 2 + 4, 12);
  });

  it("splits a koo's users into transactions, each expecting the fence the one before leaves", () => {
    const steps = plan(
      [
        by('a', ev('like', L, 1)),
        by('b', ev('like', L, 2)),
        by('a', ev('share', L, 3)),
        by('c', ev('like', L, 4)),
      ],
      new Map(),
      2,
    );
    expect(steps.map((s) => [s.score.fence.from, s.score.fence.to, s.pairs.map((p) => p.userId)])).toEqual([
      [undefined, 3, ['a', 'b']],
      [3, 4, ['c']],
    ]);
    expect(steps[1]!.score.change).toEqual({ kind: 'add', delta: 1, landmarkFrom: L });
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
      userId: replyStateKey('r1'),
    });
    expect(decodeKooChange(reply('r', 'p1'))?.contentId).toBe('p1');
  });

  it('counts a reply once, however often its row is read (its create, then a re-snapshot)', () => {
    const read = (offset: number) => by(replyStateKey('r1'), ev('reply', L, offset, 'p1'));
    const [first] = planKoo(
      'p1',
      [read(5), read(9)],
      storedScoreOf(undefined, 'efk0'),
      'efk0',
      new Map(),
      weights,
      decay,
    );
    expect(first!.score.change).toEqual({ kind: 'add', delta: 4, landmarkFrom: undefined });
    expect(first!.pairs).toEqual([{ userId: replyStateKey('r1'), state: { flags: 0, repliedAt: L } }]);
    // The stored state keeps no TTL: a re-snapshot a year later still finds it.
    expect(pairItemOf('p1', first!.pairs[0]!, 1)).not.toHaveProperty('ttl');
    const stored = storedScoreOf({ id: 'p1', es: 4, lm: L, ev: 1, efk0: 9 }, 'efk0');
    const [again] = planKoo(
      'p1',
      [read(40)],
      stored,
      'efk0',
      new Map([[replyStateKey('r1'), pairStateOf(pairItemOf('p1', first!.pairs[0]!, 1))]]),
      weights,
      decay,
    );
    expect(again!.score.change).toEqual({ kind: 'add', delta: 0, landmarkFrom: L });
    expect(again!.pairs).toEqual([]);
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
    const w = planScoreWrite('r1', [ev('like', 10, 5, 'r1'), ev('delete', 10, 6, 'r1')], stored, 'efk0')!;
    expect(w.retract).toBe(true);
    expect(planScoreWrite('r1', [ev('like', 10, 7, 'r1')], { ...stored, fence: 6 }, 'efk0')!.retract).toBe(
      false, // later writes leave the stored mark as it is
    );
  });
});

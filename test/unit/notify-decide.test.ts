import { describe, expect, it } from 'vitest';
import type { FollowRow, KooRow } from '../../schemas/cdc.ts';
import type { Reaction } from '../../schemas/reaction.ts';
import type { ChangeEvent } from '../../shared/cdc/debezium.ts';
import {
  aggregateAt,
  aggregatesOf,
  createdKoos,
  digestJobId,
  intentOf,
  kooIdsToResolve,
  kooOf,
  periodOf,
  windowStart,
  type NotifyEvent,
} from '../../workers/notify/decide.ts';
import { aggregateNotification, digestNotification, headline } from '../../workers/notify/message.ts';

const T = 1_764_000_000_000;
const reaction = (type: Reaction['type'], user: string, time = T): NotifyEvent => ({
  source: 'reaction',
  reaction: { event_id: `${type}-${user}`, type, content_id: 'k1', user_id: user, event_time: time },
});
const change = <Row>(op: 'c' | 'd', row: Row): ChangeEvent<Row> => ({
  op,
  before: op === 'd' ? row : null,
  after: op === 'd' ? null : row,
  lsn: 1,
  txId: 1,
  changedAtMs: T,
  table: 't',
});
const reply = (creator: string, parent: string): NotifyEvent => ({
  source: 'reply',
  change: change<KooRow>('c', {
    content_id: 'r1',
    creator_id: creator,
    parent_id: parent,
    lang: 'hi',
    body: '',
    media_url: null,
    created_at: T,
    updated_at: T,
  }),
});
const follow = (op: 'c' | 'd', follower: string, followee: string): NotifyEvent => ({
  source: 'follow',
  change: change<FollowRow>(op, { follower_id: follower, followee_id: followee, created_at: T }),
});
const creators = new Map([
  ['k1', 'owner'],
  ['p1', 'owner'],
]);

describe('who a notification goes to', () => {
  it('a new koo notifies nobody but names its creator; a reply names its own, and waits on its parent', () => {
    const created = reply('ravi', 'p1') as Extract<NotifyEvent, { source: 'reply' }>;
    const koo: NotifyEvent = {
      source: 'koo',
      change: { ...created.change, after: { ...created.change.after!, parent_id: null } },
    };
    expect(intentOf(koo, creators)).toBeUndefined();
    expect(kooOf(koo)).toBeUndefined();
    expect(createdKoos([koo, reply('asha', 'p1'), reaction('like', 'asha'), follow('c', 'a', 'b')])).toEqual([
      { kooId: 'r1', creator: 'ravi' },
      { kooId: 'r1', creator: 'asha' },
    ]);
    expect([
      kooOf(reply('asha', 'p1')),
      kooOf(reaction('like', 'asha')),
      kooOf(follow('c', 'a', 'b')),
    ]).toEqual(['p1', 'k1', undefined]);
    // Not yet known: no intent (the worker parks it until the koo's create is seen).
    expect(intentOf(reaction('like', 'asha'), new Map())).toBeUndefined();
  });

  it('a like, share or rekoo goes to the koo creator; an unlike removes the like', () => {
    expect(intentOf(reaction('like', 'asha'), creators)).toMatchObject({
      op: 'add',
      kind: 'like',
      recipient: 'owner',
      kooId: 'k1',
      actor: 'asha',
    });
    expect(intentOf(reaction('rekoo', 'asha'), creators)).toMatchObject({ op: 'add', kind: 'rekoo' });
    expect(intentOf(reaction('unlike', 'asha'), creators)).toMatchObject({ op: 'remove', kind: 'like' });
  });

  it('a reply goes to the parent creator, a follow to the followee, an unfollow removes the follow', () => {
    expect(intentOf(reply('asha', 'p1'), creators)).toMatchObject({
      kind: 'reply',
      recipient: 'owner',
      kooId: 'p1',
      actor: 'asha',
      eventTimeMs: T,
    });
    expect(intentOf(follow('c', 'asha', 'ravi'), creators)).toMatchObject({
      op: 'add',
      kind: 'follow',
      recipient: 'ravi',
      kooId: null,
    });
    expect(intentOf(follow('d', 'asha', 'ravi'), creators)).toMatchObject({ op: 'remove' });
  });

  it('nobody is notified of their own act, nor of a koo whose creator is unknown', () => {
    expect(intentOf(reaction('like', 'owner'), creators)).toBeUndefined();
    expect(intentOf(reply('owner', 'p1'), creators)).toBeUndefined();
    expect(intentOf(follow('c', 'ravi', 'ravi'), creators)).toBeUndefined();
    expect(intentOf(reaction('like', 'asha'), new Map())).toBeUndefined();
  });

  it('resolves the koos reacted to and the parents replied to, once each', () => {
    expect(
      kooIdsToResolve([
        reaction('like', 'a'),
        reaction('share', 'b'),
        reply('c', 'p1'),
        follow('c', 'a', 'b'),
      ]),
    ).toEqual(['k1', 'p1']);
  });
});

describe('aggregates', () => {
  const like = intentOf(reaction('like', 'asha', T + 1234), creators)!;

  it('events of one window share an aggregate whose id is derived from event time', () => {
    const a = aggregateAt(like, T + 1234, 60_000);
    const b = aggregateAt(like, windowStart(T + 1234, 60_000) + 59_999, 60_000);
    expect(a).toEqual(b);
    expect(a.windowEndMs - a.windowStartMs).toBe(60_000);
    expect(aggregateAt(like, a.windowEndMs, 60_000).id).not.toBe(a.id);
    expect(a.id).toBe(`agg.like.owner.k1.${a.windowStartMs}`);
  });

  it('ids are valid BullMQ job ids whatever the source ids hold', () => {
    const odd = aggregateAt({ kind: 'follow', recipient: 'a:b.c', kooId: null }, T, 1000);
    expect(odd.id).not.toMatch(/:/);
    expect(odd.id.split('.')).toHaveLength(5);
    expect(digestJobId('a:b', 7)).toBe('digest.a%3Ab.7');
  });

  it('an add joins its own window; a removal also reaches back one window (not yet delivered)', () => {
    expect(aggregatesOf(like, 60_000)).toHaveLength(1);
    const unlike = { ...like, op: 'remove' as const };
    const [previous, own] = aggregatesOf(unlike, 60_000);
    expect(own!.windowStartMs - previous!.windowStartMs).toBe(60_000);
  });

  it('rate-limit periods are whole multiples of the period', () => {
    expect(periodOf(3_599_999, 3_600_000)).toBe(0);
    expect(periodOf(3_600_000, 3_600_000)).toBe(1);
  });
});

describe('message text', () => {
  it('names the first actor and counts the rest', () => {
    expect(headline('like', [{ id: 'u1', handle: 'Asha' }], 1)).toBe('Asha liked your koo');
    expect(headline('reply', [{ id: 'u1', handle: 'Asha' }, { id: 'u2' }], 2)).toBe(
      'Asha and u2 replied to your koo',
    );
    expect(headline('like', [{ id: 'u1', handle: 'Asha' }, { id: 'u2' }], 213)).toBe(
      'Asha and 212 others liked your koo',
    );
    expect(headline('follow', [{ id: 'u1', handle: 'Asha' }], 2)).toBe('Asha and 1 other followed you');
    expect(() => headline('like', [], 0)).toThrow(RangeError);
  });

  it('a digest merges held notifications in a fixed order', () => {
    const a = aggregateNotification(
      'agg.like.o.k2.0.0',
      { kind: 'like', recipient: 'o', kooId: 'k2' },
      [{ id: 'x' }],
      1,
    );
    const b = aggregateNotification(
      'agg.follow.o.-.0.0',
      { kind: 'follow', recipient: 'o', kooId: null },
      [{ id: 'y' }],
      3,
    );
    const d1 = digestNotification('digest.o.5', 'o', [a, b]);
    const d2 = digestNotification('digest.o.5', 'o', [b, a]);
    expect(d1).toEqual(d2);
    expect(d1).toMatchObject({
      kind: 'digest',
      count: 2,
      text: 'y and 2 others followed you, and 1 more notification',
    });
  });
});

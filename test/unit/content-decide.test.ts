import { describe, expect, it } from 'vitest';
import { contentAttr as A, userAttr as U } from '../../schemas/koo-content.ts';
import { decodeContentEvent } from '../../workers/content/content-worker.ts';
import {
  bodyKey,
  bodyKeyPrefix,
  isResolved,
  kooTombstone,
  kooWrite,
  langGroup,
  latestPerKey,
  mediaUri,
  needsPropagation,
  rootOf,
  shortenMedia,
  userWrite,
} from '../../workers/content/decide.ts';
import { envelope, kooRow, rawRecord, userRow } from '../support/cdc-events.ts';

const settings = { mediaBucket: 'koo-media', tombstoneTtlSeconds: 86_400, bodyInlineMaxBytes: 32 * 1024 };

function kooEvent(op: 'c' | 'u' | 'd', row: ReturnType<typeof kooRow>, lsn = 100) {
  const event = decodeContentEvent(
    rawRecord('koo.public.koos', envelope('koos', op, op === 'c' ? null : row, op === 'd' ? null : row, lsn)),
  );
  if (!event || event.kind !== 'koo') throw new Error('expected a koo event');
  return event.change;
}

describe('content decisions', () => {
  it('buckets the language by UTC day', () => {
    expect(langGroup('hi', Date.parse('2026-11-27T23:59:59Z'))).toBe('hi#2026-11-27');
    expect(langGroup('kn', Date.parse('2026-11-28T00:00:00Z'))).toBe('kn#2026-11-28');
  });

  it('shortens media URIs of the media bucket to the object name and keeps others whole', () => {
    expect(shortenMedia('s3://koo-media/u1/nature_valley.jpg', 'u1', 'koo-media')).toEqual({
      key: 'nature_valley.jpg',
    });
    expect(shortenMedia('s3://other/u1/a.jpg', 'u1', 'koo-media')).toEqual({ uri: 's3://other/u1/a.jpg' });
    expect(shortenMedia('s3://koo-media/u2/a.jpg', 'u1', 'koo-media')).toEqual({
      uri: 's3://koo-media/u2/a.jpg',
    });
    expect(shortenMedia('s3://koo-media/u1/dir/a.jpg', 'u1', 'koo-media')).toEqual({
      uri: 's3://koo-media/u1/dir/a.jpg',
    });
    expect(shortenMedia(null, 'u1', 'koo-media')).toEqual({});
    expect(mediaUri({ [A.creator]: 'u1', [A.mediaKey]: 'nature_valley.jpg' }, 'koo-media')).toBe(
      's3://koo-media/u1/nature_valley.jpg',
    );
  });

  it('keeps only the newest change per key, in order of last appearance', () => {
    const events = [
      { k: 'a', n: 1 },
      { k: 'b', n: 2 },
      { k: 'a', n: 3 },
    ];
    expect(latestPerKey(events, (e) => e.k)).toEqual([
      { k: 'b', n: 2 },
      { k: 'a', n: 3 },
    ]);
  });

  it('writes a root koo resolved, with creator handle, lang group and shortened media', () => {
    const change = kooEvent('c', kooRow('k1', { media_url: 's3://koo-media/u1/pic.jpg' }), 42);
    const write = kooWrite(change, { id: 'u1', h: 'asha', v: 7 }, undefined, settings);
    expect(write.waitsOn).toBeNull();
    expect(write.set).toMatchObject({
      [A.creator]: 'u1',
      [A.creatorHandle]: 'asha',
      [A.handleVersion]: 7,
      [A.langGroup]: 'hi#2026-11-27',
      [A.createdAt]: Date.parse('2026-11-27T08:00:00Z'),
      [A.mediaKey]: 'pic.jpg',
      [A.mediaUri]: null,
      [A.version]: 42,
      [A.parent]: null,
      [A.superParent]: null,
    });
  });

  it('resolves a reply from a resolved parent, and waits when the parent is unknown', () => {
    const reply = kooEvent('c', kooRow('k3', { parent_id: 'k2' }));
    const resolvedParent = {
      [A.contentId]: 'k2',
      [A.creator]: 'u1',
      [A.parent]: 'k1',
      [A.superParent]: 'k1',
    };
    expect(kooWrite(reply, undefined, resolvedParent, settings)).toMatchObject({
      waitsOn: null,
      set: { [A.superParent]: 'k1' },
    });
    const rootParent = { [A.contentId]: 'k2', [A.creator]: 'u1' };
    expect(kooWrite(reply, undefined, rootParent, settings).set[A.superParent]).toBe('k2');
    const unresolvedParent = { [A.contentId]: 'k2', [A.creator]: 'u1', [A.parent]: 'k1' };
    const waiting = kooWrite(reply, undefined, unresolvedParent, settings);
    expect(waiting.waitsOn).toBe('k2');
    expect(A.superParent in waiting.set).toBe(false);
    expect(kooWrite(reply, undefined, undefined, settings).waitsOn).toBe('k2');
    // A stub: only the mark of replies waiting for it.
    expect(kooWrite(reply, undefined, { [A.contentId]: 'k2', [A.waitedOn]: 1 }, settings).waitsOn).toBe('k2');
  });

  it('knows which stored items are resolved and what root they pass on', () => {
    expect(isResolved(undefined)).toBe(false);
    expect(isResolved({ id: 'k', pw: 1 })).toBe(false); // stub
    expect(isResolved({ id: 'k', c: 'u' })).toBe(true); // root
    expect(isResolved({ id: 'k', c: 'u', p: 'r' })).toBe(false);
    expect(isResolved({ id: 'k', c: 'u', p: 'r', sp: 'r' })).toBe(true);
    expect(isResolved({ id: 'k', x: 1, p: 'r', sp: 'r0' })).toBe(true); // tombstone keeps links
    expect(rootOf({ id: 'k' })).toBe('k');
    expect(rootOf({ id: 'k', p: 'r', sp: 'r0' })).toBe('r0');
  });

  it('keeps a body up to BODY_INLINE_MAX_BYTES (UTF-8 bytes) in the item, and points to S3 above it', () => {
    const small = { ...settings, bodyInlineMaxBytes: 9 };
    const inline = kooWrite(kooEvent('c', kooRow('k1', { body: 'कका' }), 7), undefined, undefined, small);
    expect(inline.set).toMatchObject({ [A.body]: 'कका', [A.bodyKey]: null });
    expect(inline.offloadedBody).toBeNull();
    // Four letters of three bytes: 12 bytes, though 4 characters.
    const large = kooWrite(kooEvent('u', kooRow('k/1', { body: 'ककाक' }), 8), undefined, undefined, small);
    expect(large.set).toMatchObject({ [A.body]: null, [A.bodyKey]: 'k%2F1/8' });
    expect(large.offloadedBody).toEqual({ key: 'k%2F1/8', body: 'ककाक' });
    expect(bodyKey('k/1', 8).startsWith(bodyKeyPrefix('k/1'))).toBe(true);
    expect(bodyKeyPrefix('k1')).not.toBe(bodyKeyPrefix('k')); // a prefix never reaches another koo's objects
    expect(kooTombstone(kooEvent('d', kooRow('k1')), settings, 0).set[A.bodyKey]).toBeNull();
  });

  it('retracts a deleted koo but keeps the fence and the thread links', () => {
    const change = kooEvent('d', kooRow('k1', { parent_id: 'k0' }), 99);
    const write = kooTombstone(change, settings, 1_000_000);
    expect(write.set).toMatchObject({
      [A.deleted]: 1,
      [A.version]: 99,
      [A.creator]: null,
      [A.langGroup]: null,
      [A.expiresAt]: 1000 + 86_400,
    });
    expect(write.set[A.parent]).toBe('k0');
    expect(A.superParent in write.set).toBe(false);
  });

  it('keeps a deleted reply a reply when its create was never stored (both in one batch)', () => {
    const write = kooTombstone(kooEvent('d', kooRow('k1', { parent_id: 'k0' }), 99), settings, 0);
    const stored = {
      [A.contentId]: 'k1',
      ...Object.fromEntries(Object.entries(write.set).filter(([, v]) => v !== null)),
    };
    // Not a root of its own: replies to it wait until it inherits k0's root.
    expect(isResolved(stored)).toBe(false);
    expect(rootOf({ ...stored, [A.superParent]: 'k0' })).toBe('k0');
    const root = kooTombstone(kooEvent('d', kooRow('k2'), 99), settings, 0);
    expect(root.set[A.parent]).toBeNull(); // a root stays one
  });

  it('propagates a handle until every koo has it, whatever change of the user comes next', () => {
    const decode = (op: 'c' | 'u', before: object | null, after: object) => {
      const e = decodeContentEvent(rawRecord('koo.public.users', envelope('users', op, before, after, 5)));
      if (!e || e.kind !== 'user') throw new Error('expected a user event');
      return e.change;
    };
    // A new user's handle is the propagated one (its early koos wait in its pending set).
    expect(userWrite(decode('c', null, userRow('u1')), settings, 0).setIfAbsent).toEqual({
      [U.propagatedHandle]: 'handle_u1',
    });
    expect(needsPropagation(null, 'handle_u1')).toBe(false);
    // A new user (the write found no attributes) or a stub its early koos wait on: they wait in
    // its pending set, nothing to propagate.
    expect(needsPropagation({}, 'handle_u1')).toBe(false);
    expect(needsPropagation({ [U.userId]: 'u1', [U.waitedOn]: 1 }, 'handle_u1')).toBe(false);
    const stored = { [U.handle]: 'old', [U.propagatedHandle]: 'old' };
    expect(needsPropagation(stored, 'old')).toBe(false); // an edit of something else
    expect(needsPropagation(stored, 'new')).toBe(true); // a rename
    // The rename was written, its propagation cut off: the next change resumes it.
    expect(needsPropagation({ [U.handle]: 'new', [U.propagatedHandle]: 'old' }, 'new')).toBe(true);
    expect(needsPropagation({ [U.handle]: 'old' }, 'new')).toBe(true); // an item from before `ph`
  });
});

describe('content decoding', () => {
  it('skips tombstones', () => {
    expect(decodeContentEvent(rawRecord('koo.public.koos', null))).toBeNull();
  });

  it.each([
    ['not JSON', '{oops', /not JSON/],
    ['not an envelope', { hello: 1 }, /not a Debezium change event/],
    [
      'a row missing its creator',
      envelope('koos', 'c', null, { ...kooRow('k1'), creator_id: undefined }, 1),
      /creator_id/,
    ],
    [
      'a bad timestamp',
      envelope('koos', 'c', null, kooRow('k1', { created_at: 'yesterday' }), 1),
      /not a timestamp/,
    ],
    ['a create without after', envelope('koos', 'c', null, null, 1), /without the after row/],
    [
      'a self-parent',
      envelope('koos', 'c', null, kooRow('k1', { parent_id: 'k1' }), 1),
      /itself as its parent/,
    ],
    [
      // Without REPLICA IDENTITY FULL an unchanged TOASTed body arrives as a placeholder, and no before image.
      'a body PostgreSQL did not send',
      envelope('koos', 'u', null, kooRow('k1', { body: '__debezium_unavailable_value' }), 1),
      /body unchanged but not sent \(TOAST\); set REPLICA IDENTITY FULL/,
    ],
  ])('rejects %s with a reason', (_name, value, reason) => {
    expect(() => decodeContentEvent(rawRecord('koo.public.koos', value))).toThrow(reason);
  });

  it("versions an incremental snapshot's read by the stream position in its sequence (its LSN is null)", () => {
    const read = (source: object) => {
      const e = envelope('koos', 'r', null, kooRow('k1'), 1);
      return rawRecord('koo.public.koos', {
        ...e,
        source: { ...e.source, lsn: null, snapshot: 'incremental', ...source },
      });
    };
    expect(decodeContentEvent(read({ sequence: '["36966100","36966200"]' }))).toMatchObject({
      change: { op: 'r', lsn: 36_966_200 },
    });
    expect(() => decodeContentEvent(read({ sequence: null }))).toThrow(/no position: source.lsn is null/);
  });

  it('reads a row without a column the views can do without (dropped at the source) as its default', () => {
    const { media_url: _media, ...koo } = kooRow('k1');
    expect(
      decodeContentEvent(rawRecord('koo.public.koos', envelope('koos', 'c', null, koo, 1))),
    ).toMatchObject({
      change: { after: { content_id: 'k1', media_url: null } },
    });
    const { is_eminent: _eminent, ...user } = userRow('u1');
    expect(
      decodeContentEvent(rawRecord('koo.public.users', envelope('users', 'c', null, user, 1))),
    ).toMatchObject({ change: { after: { user_id: 'u1', is_eminent: false } } });
    // A column a view needs is not defaulted: the row goes to the DLQ naming it.
    const { body: _body, ...bodiless } = kooRow('k1');
    expect(() =>
      decodeContentEvent(rawRecord('koo.public.koos', envelope('koos', 'c', null, bodiless, 1))),
    ).toThrow(/body/);
  });

  it('never writes the TOAST placeholder: an unchanged body is taken from the before image', () => {
    const before = kooRow('k1', { body: 'a long body' });
    const after = kooRow('k1', {
      body: '__debezium_unavailable_value',
      media_url: 's3://koo-media/u1/x.jpg',
    });
    const event = decodeContentEvent(rawRecord('koo.public.koos', envelope('koos', 'u', before, after, 2)));
    expect(event?.change.after).toMatchObject({ body: 'a long body', media_url: 's3://koo-media/u1/x.jpg' });
  });
});

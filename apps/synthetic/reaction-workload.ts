import type { Reaction, ReactionType } from '../../schemas/reaction.ts';
import { Random, Zipf } from './random.ts';

/**
 * Reactions as the app emits them, seeded: koos are picked by Zipf popularity, users toggle likes
 * (like, unlike, like again), share and rekoo; some events are sent again later with the same
 * event id (an app retry, a redelivery). The generator keeps what the app believes, so the exact
 * counters a consumer must reach are known without reading the log back.
 */
export interface ReactionWorkloadOptions {
  seed: number;
  /** Koo ids, most popular first. */
  koos: readonly string[];
  users: readonly string[];
  /** Zipf exponent of koo popularity (1 = classic Zipf; higher = more skewed). */
  skew?: number;
  /** Share of events sent a second time, up to `redeliveryWindow` events later. */
  duplicateShare?: number;
  redeliveryWindow?: number;
  /** Event time of the first event, epoch ms; each event is 1 ms after the previous one. */
  startTime?: number;
}

export interface ReactionCounts {
  likes: number;
  shares: number;
  rekoos: number;
}

const actions: readonly (readonly ['toggle-like' | 'share' | 'rekoo', number])[] = [
  ['toggle-like', 80],
  ['share', 12],
  ['rekoo', 8],
];

export class ReactionWorkload {
  private readonly rnd: Random;
  private readonly popularity: Zipf;
  private readonly o: Required<ReactionWorkloadOptions>;
  /** What the app believes per koo and user: liked, shared, rekooed. */
  private readonly state = new Map<
    string,
    Map<string, { liked: boolean; shared: boolean; rekooed: boolean }>
  >();
  private readonly redeliveries = new Map<number, Reaction[]>();
  private step = 0;
  private duplicates = 0;

  constructor(options: ReactionWorkloadOptions) {
    this.o = { skew: 1.1, duplicateShare: 0.05, redeliveryWindow: 500, startTime: Date.now(), ...options };
    this.rnd = new Random(options.seed);
    this.popularity = new Zipf(options.koos.length, this.o.skew);
  }

  /** The next `count` events to send, duplicates included (they count towards `count`). */
  next(count: number): Reaction[] {
    const out: Reaction[] = [];
    while (out.length < count) {
      const due = this.redeliveries.get(this.step);
      if (due) {
        this.redeliveries.delete(this.step);
        out.push(...due.slice(0, count - out.length));
      }
      if (out.length < count) out.push(this.react());
      this.step++;
    }
    return out;
  }

  private react(): Reaction {
    const contentId = this.o.koos[this.popularity.rank(this.rnd)]!;
    const userId = this.rnd.pick(this.o.users);
    let users = this.state.get(contentId);
    if (!users) this.state.set(contentId, (users = new Map()));
    let s = users.get(userId);
    if (!s) users.set(userId, (s = { liked: false, shared: false, rekooed: false }));
    const action = this.rnd.weighted(actions);
    let type: ReactionType;
    if (action === 'toggle-like') {
      type = s.liked ? 'unlike' : 'like';
      s.liked = !s.liked;
    } else if (action === 'share') {
      type = 'share';
      s.shared = true;
    } else {
      type = 'rekoo';
      s.rekooed = true;
    }
    const event: Reaction = {
      event_id: this.rnd.id(),
      type,
      content_id: contentId,
      user_id: userId,
      event_time: this.o.startTime + this.step,
    };
    if (this.rnd.next() < this.o.duplicateShare) {
      const at = this.step + 1 + this.rnd.int(this.o.redeliveryWindow);
      this.redeliveries.set(at, [...(this.redeliveries.get(at) ?? []), event]);
      this.duplicates++;
    }
    return event;
  }

  /** Events still waiting to be sent again (send them with `next` to complete the log). */
  get pendingDuplicates(): number {
    let n = 0;
    for (const list of this.redeliveries.values()) n += list.length;
    return n;
  }

  /** Every redelivery still due, in order. */
  drain(): Reaction[] {
    const due = [...this.redeliveries.entries()].sort(([a], [b]) => a - b).flatMap(([, list]) => list);
    this.redeliveries.clear();
    return due;
  }

  /** The counters every koo must end with once all events sent so far are applied. */
  expectedCounts(): Map<string, ReactionCounts> {
    const counts = new Map<string, ReactionCounts>();
    for (const [contentId, users] of this.state) {
      const c = { likes: 0, shares: 0, rekoos: 0 };
      for (const s of users.values()) {
        c.likes += Number(s.liked);
        c.shares += Number(s.shared);
        c.rekoos += Number(s.rekooed);
      }
      counts.set(contentId, c);
    }
    return counts;
  }

  get duplicatesSent(): number {
    return this.duplicates - this.pendingDuplicates;
  }
}

/**
 * Forward-decay arithmetic (Cormode et al., "Forward Decay", ICDE 2009). An event of weight w at
 * time t adds w * 2^((t - L) / h) to a score kept relative to a landmark L; the score at time T is
 * stored * 2^(-(T - L) / h). Contributions therefore add in any order and need no read of the score.
 * Landmarks are whole multiples of the landmark period, itself a whole number of half-lives, so
 * moving a score to a later landmark multiplies it by an exact power of two (no rounding at all),
 * and a contribution never exceeds w * 2^(period / h) (no overflow however long the koo lives).
 */
export interface DecaySettings {
  halfLifeMs: number;
  /** A whole number of half-lives: landmarks are multiples of it. */
  landmarkPeriodMs: number;
}

/** The landmark of an event time: the start of its landmark period. */
export function landmarkOf(timeMs: number, s: DecaySettings): number {
  return Math.floor(timeMs / s.landmarkPeriodMs) * s.landmarkPeriodMs;
}

/** What an event of `weight` at `timeMs` adds to a score relative to `landmarkMs`. */
export function contribution(weight: number, timeMs: number, landmarkMs: number, s: DecaySettings): number {
  return weight * 2 ** ((timeMs - landmarkMs) / s.halfLifeMs);
}

/** The same score relative to a later landmark; exact, since the landmarks are whole half-lives apart. */
export function rebase(
  stored: number,
  fromLandmarkMs: number,
  toLandmarkMs: number,
  s: DecaySettings,
): number {
  return stored * 2 ** (-(toLandmarkMs - fromLandmarkMs) / s.halfLifeMs);
}

/**
 * The decayed score at `nowMs`. An unlike takes back a like's weight as of the unlike, which can
 * leave a sum below zero; no engagement reads as 0.
 */
export function scoreAt(stored: number, landmarkMs: number, nowMs: number, s: DecaySettings): number {
  return Math.max(0, rebase(stored, landmarkMs, nowMs, s));
}

/**
 * The trending rank: log2 of the score relative to the Unix epoch. Every koo's score decays at the
 * same rate, so ordering by it is the same at any time and a sorted set never needs re-scoring.
 * It is about 8e4 today, which leaves a double 36 bits of fraction: about 1e-11 relative error
 * in the score it stands for. Undefined (no rank) for a score that is not positive.
 */
export function trendingRank(stored: number, landmarkMs: number, s: DecaySettings): number | undefined {
  return stored > 0 ? Math.log2(stored) + landmarkMs / s.halfLifeMs : undefined;
}

/** The score at `nowMs` of a koo with this trending rank. */
export function scoreOfRank(rank: number, nowMs: number, s: DecaySettings): number {
  return 2 ** (rank - nowMs / s.halfLifeMs);
}

/** The rank a koo must reach to have at least `score` at `nowMs` (the trending threshold). */
export function rankOfScore(score: number, nowMs: number, s: DecaySettings): number {
  return Math.log2(score) + nowMs / s.halfLifeMs;
}

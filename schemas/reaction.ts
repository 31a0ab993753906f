import { readFileSync } from 'node:fs';
import type avro from 'avsc';
import { topicNames } from './topics.ts';
import { AvroContract } from '../shared/avro/avro-contract.ts';
import type { Reaction } from './reaction.generated.ts';

export { reactionTypeSymbols, type Reaction, type ReactionType } from './reaction.generated.ts';

/** schemas/reaction.avsc: the contract of koo.reactions (types are generated from it). */
export const reactionSchema = JSON.parse(
  readFileSync(new URL('./reaction.avsc', import.meta.url), 'utf8'),
) as avro.Schema;

/** Confluent's TopicNameStrategy: the value schema of topic T is registered under `T-value`. */
export const reactionSubject = `${topicNames.reactions}-value`;

// Same bound as the source tables' ids (schemas/cdc.ts).
const ID_MAX = 64;
const idFields = ['event_id', 'content_id', 'user_id'] as const;

/** Koo launched in 2020: an earlier event_time is a unit or clock mistake (seconds, a zero). */
export const EVENT_TIME_MIN_MS = Date.UTC(2020, 0, 1);
/**
 * How far event_time may run ahead of the record's Kafka timestamp: reactions come from app
 * servers on NTP, so more is a bug (microseconds instead of milliseconds, a clock far ahead).
 * Checked against the record's own timestamp, not the reader's clock, so a replay decides the same.
 */
export const EVENT_TIME_MAX_AHEAD_MS = 5 * 60_000;

/**
 * Reads a reaction as this version of the schema defines it, plus what Avro cannot say: ids are
 * 1 to 64 characters, and event_time is epoch milliseconds from 2020 on, at most 5 minutes after
 * the record was written. An event_time outside that would pin a score (a landmark in the year
 * 58,000) or a lake path (`dt=+058876-…`) for good; it is dead-lettered instead.
 */
export const reactionContract = new AvroContract<Reaction>(reactionSchema, (r, { writtenAtMs }) => {
  for (const field of idFields) {
    if (r[field].length === 0 || r[field].length > ID_MAX)
      return { field, problem: `must be 1 to ${ID_MAX} characters` };
  }
  if (r.event_time < EVENT_TIME_MIN_MS)
    return { field: 'event_time', problem: `${r.event_time} is before 2020-01-01 (not epoch milliseconds?)` };
  // A timestamp of 0 or -1 (none: an old message format) bounds nothing.
  if (writtenAtMs !== undefined && writtenAtMs > 0 && r.event_time > writtenAtMs + EVENT_TIME_MAX_AHEAD_MS)
    return {
      field: 'event_time',
      problem: `${r.event_time} is more than ${EVENT_TIME_MAX_AHEAD_MS / 60_000} min after the record was written (${writtenAtMs}; microseconds instead of milliseconds?)`,
    };
  return undefined;
});

// Generated from schemas/reaction.avsc by `node schemas/avro-codegen.ts`: edit the schema, then run it.
// test/unit/avro-codegen.test.ts fails when this file and the schema disagree.

/** No enum default on purpose: a type this reader does not know goes to the DLQ instead of being counted as something else. */
export const reactionTypeSymbols = ['like', 'unlike', 'share', 'rekoo'] as const;
export type ReactionType = (typeof reactionTypeSymbols)[number];

/** A user's reaction to a koo, emitted by the app. Topic koo.reactions, key = content_id, subject koo.reactions-value (FULL_TRANSITIVE). Evolve only by adding or removing fields that have a default. */
export interface Reaction {
  /** Unique per reaction the user made; a redelivered or retried event keeps it. */
  event_id: string;
  /** like and unlike toggle one like per user; share and rekoo are counted once per user. */
  type: ReactionType;
  /** The koo reacted to (koos.content_id); also the Kafka key. */
  content_id: string;
  /** The acting user (users.user_id). */
  user_id: string;
  /** When the user reacted, epoch milliseconds UTC; orders a user's like and unlike of a koo. */
  event_time: number;
}

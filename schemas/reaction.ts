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

/** Reads a reaction as this version of the schema defines it, plus what Avro cannot say: ids are 1 to 64 characters. */
export const reactionContract = new AvroContract<Reaction>(reactionSchema, (r) => {
  for (const field of idFields) {
    if (r[field].length === 0 || r[field].length > ID_MAX)
      return { field, problem: `must be 1 to ${ID_MAX} characters` };
  }
  return undefined;
});

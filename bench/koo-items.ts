import { tableName } from '../schemas/tables.ts';
import { contentAttr as A } from '../schemas/koo-content.ts';
import { batchWrite } from '../shared/dynamodb/batch-writer.ts';
import type { Dynamo } from '../shared/dynamodb/dynamo-client.ts';
import { langGroup } from '../workers/content/decide.ts';

/**
 * Koos as the content worker leaves them (creator, handle, language and its day bucket, creation
 * time, an inline body of ~200 Devanagari characters: ~600 bytes of UTF-8), so that what a
 * reaction or score update costs includes the GSIs the item is projected into, as in production.
 */
export async function seedKooItems(dynamo: Dynamo, ids: readonly string[], prefix = ''): Promise<void> {
  const langs = ['hi', 'kn', 'ta', 'bn'];
  const now = Date.now();
  const body = 'नमस्ते दुनिया '.repeat(15);
  const puts = ids.map((id, i) => {
    const lang = langs[i % langs.length]!;
    const createdAt = now - i * 1000;
    return {
      put: {
        [A.contentId]: id,
        [A.creator]: `bench-creator-${i % 500}`,
        [A.creatorHandle]: `creator${i % 500}`,
        [A.lang]: lang,
        [A.langGroup]: langGroup(lang, createdAt),
        [A.createdAt]: createdAt,
        [A.updatedAt]: createdAt,
        [A.body]: body,
        [A.version]: 1,
      },
    };
  });
  await batchWrite(dynamo, tableName('content', prefix), puts, { keyAttributes: [A.contentId] });
}

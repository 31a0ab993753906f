import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { contentConfigSchema } from '../../workers/content/content-worker.ts';
import { engagementConfigSchema } from '../../workers/engagement/engagement-worker.ts';
import { feedConfigSchema } from '../../workers/feed/feed-worker.ts';
import { lakeConfigSchema } from '../../workers/lake/lake-worker.ts';
import { notifyConfigSchema } from '../../workers/notify/notify-config.ts';
import { senderConfigSchema } from '../../workers/notify-sender/sender-config.ts';
import { reactionsConfigSchema } from '../../workers/reactions/reactions-worker.ts';

const readme = readFileSync(resolve(import.meta.dirname, '../../README.md'), 'utf8');
const variables = new Set(
  [
    contentConfigSchema,
    engagementConfigSchema,
    feedConfigSchema,
    reactionsConfigSchema,
    lakeConfigSchema,
    notifyConfigSchema,
    senderConfigSchema,
  ].flatMap((s) => Object.keys(s.shape)),
);

describe('README', () => {
  // The configuration table is what ops read: every variable a worker accepts must be in it.
  it.each([...variables])('documents %s', (name) => {
    expect(readme).toMatch(new RegExp(`^\\| \`${name}\` +\\|`, 'm'));
  });
});

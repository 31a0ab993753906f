import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { contentConfigSchema } from '../../workers/content/content-worker.ts';

const readme = readFileSync(resolve(import.meta.dirname, '../../README.md'), 'utf8');

describe('README', () => {
  // The configuration table is what ops read: every variable a worker accepts must be in it.
  it.each(Object.keys(contentConfigSchema.shape))('documents %s', (name) => {
    expect(readme).toContain(`| \`${name}\` |`);
  });
});

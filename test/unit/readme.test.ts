import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { catalog } from '../../workers/catalog.ts';

const readme = readFileSync(resolve(import.meta.dirname, '../../README.md'), 'utf8');
const variables = new Set(catalog.flatMap((entry) => Object.keys(entry.configSchema.shape)));

describe('README', () => {
  // The configuration table is what ops read: every variable a worker accepts must be in it.
  it.each([...variables])('documents %s', (name) => {
    expect(readme).toMatch(new RegExp(`^\\| \`${name}\` +\\|`, 'm'));
  });
});

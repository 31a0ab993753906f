import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The floors of the tree (ARCHITECTURE.md): a folder may import only itself and the floors below it.
//   shared/    the library (runtime, Kafka, DynamoDB, Avro, config, ...): nothing of ours
//   schemas/   the contracts (topics, tables, CDC rows, the reaction schema): shared/
//   workers/   the stream processors: schemas/, shared/
//   clients/   what app services import to talk to the pipeline (the reaction producer): schemas/, shared/
//   apps/      what runs or operates the workers (cli, ops, supervisor, demo, synthetic): anything below
//   infra/, bench/, test/  on top
const root = fileURLToPath(new URL('../../', import.meta.url));
const mayImport: Record<string, readonly string[]> = {
  shared: ['shared'],
  schemas: ['schemas', 'shared'],
  workers: ['workers', 'schemas', 'shared'],
  clients: ['clients', 'schemas', 'shared'],
  apps: ['apps', 'clients', 'workers', 'schemas', 'shared', 'infra'],
};

function tsFiles(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => relative(root, join(e.parentPath, e.name)));
}

function importedFloors(file: string): { spec: string; floor: string }[] {
  const text = readFileSync(join(root, file), 'utf8');
  return [...text.matchAll(/(?:from|import\(|import)\s*'(\.{1,2}\/[^']+)'/g)].map((m) => ({
    spec: m[1]!,
    floor: relative(root, resolve(dirname(join(root, file)), m[1]!)).split('/')[0]!,
  }));
}

describe('layout: which floor may import which', () => {
  for (const [floor, allowed] of Object.entries(mayImport)) {
    it(`${floor}/ imports only ${allowed.join(', ')}`, () => {
      const wrong = tsFiles(floor).flatMap((file) =>
        importedFloors(file)
          .filter((i) => !allowed.includes(i.floor))
          .map((i) => `${file} imports ${i.spec}`),
      );
      expect(wrong).toEqual([]);
    });
  }
});

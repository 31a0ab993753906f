import { realpath, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { freePort, privateStack, undoAfterAll } from '../support/private-stack.ts';

// A new user's first step is `git clone … && bash infra/dev.sh demo` in a private directory (root's
// home and every mktemp -d are mode 700 here). PostgreSQL runs as the 'postgres' user, who cannot
// traverse such a parent: the stack must still start. Its own cluster on a free port, so the
// stack the other tests use is not touched.

describe('the stack from a checkout under a private directory', () => {
  const undo = undoAfterAll();

  it('starts PostgreSQL, applies the schema and stops it again', async () => {
    const parent = await undo.tempDir('koo-private-');
    expect((await stat(parent)).mode & 0o777).toBe(0o700);
    const stackDir = join(parent, 'checkout', '.stack');
    const port = await freePort();
    const stack = privateStack({ KOO_STACK_DIR: stackDir, PG_PORT: String(port) });
    undo.push(async () => {
      const data = await realpath(join(stackDir, 'data', 'postgres')).catch(() => undefined);
      await stack('down', 'postgres');
      // The cluster outside the checkout (see infra/stack/services/postgres.sh) goes with it.
      if (data && !data.startsWith(parent)) await rm(join(data, '..'), { recursive: true, force: true });
    });

    await stack('up', 'postgres');

    const db = new pg.Client({ connectionString: `postgres://koo@127.0.0.1:${port}/koo` });
    await db.connect();
    try {
      const { rows } = await db.query<{ n: string }>('select count(*) as n from koos');
      expect(Number(rows[0]!.n)).toBe(0);
    } finally {
      await db.end();
    }
    const { stdout } = await stack('status');
    expect(stdout).toMatch(/postgres\s+running \(pid \d+\), healthy/);
  });
});

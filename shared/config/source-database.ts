import pg from 'pg';
import { z } from 'zod';
import { env, loadConfig } from './load-config.ts';

/** The source PostgreSQL (the monolith whose changes Debezium reads), and Debezium's slot on it. */
export const sourceDatabaseConfigSchema = z.object({
  PG_URL: env.url('postgres://koo@127.0.0.1:5432/koo'),
  DEBEZIUM_SLOT: env.string('koo_debezium'),
});

/** A small pool on the source database, for what writes rows into it: the synthetic producer, the demo, benchmarks, tests. */
export function sourceDatabasePool(environment: Record<string, string | undefined> = process.env): pg.Pool {
  return new pg.Pool({
    connectionString: loadConfig(sourceDatabaseConfigSchema, environment).PG_URL,
    max: 4,
  });
}

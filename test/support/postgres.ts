import pg from 'pg';
import { stackEnv } from './stack-env.ts';

/** The stack's PostgreSQL (the monolith): tests change rows here and watch them come out through Debezium. */
export function sourceDb(): pg.Pool {
  return new pg.Pool({ connectionString: stackEnv.pgUrl, max: 4 });
}

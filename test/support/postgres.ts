import type pg from 'pg';
import { sourceDatabasePool } from '../../shared/config/source-database.ts';

/** The stack's PostgreSQL (the monolith): tests change rows here and watch them come out through Debezium. */
export function sourceDb(): pg.Pool {
  return sourceDatabasePool();
}

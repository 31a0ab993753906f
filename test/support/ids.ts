import { randomBytes } from 'node:crypto';

/** A fresh 64-bit id as 16 hex characters (the id form the source tables use). */
export function newId(): string {
  return randomBytes(8).toString('hex');
}

/** A prefix unique to this test run, for group ids and the like. */
export const runId = randomBytes(4).toString('hex');

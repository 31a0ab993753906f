import { KooError } from '../errors/koo-error.ts';

/** A page of a paged read. */
export interface Page<T> {
  items: T[];
  /** Pass back to get the next page; absent on the last page. */
  cursor?: string;
}

/** An opaque cursor for a read position (a LastEvaluatedKey and whatever else the reader needs). */
export function encodeCursor(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

export function decodeCursor<T>(cursor: string): T {
  try {
    return JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as T;
  } catch (err) {
    throw new KooError('VALIDATION_FAILED', 'cursor is not one this API returned', { cause: err });
  }
}

// A date alone is midnight UTC; a time must name its zone, so the instant does not depend on the
// machine the command runs on.
const isoInstant = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2}))?$/;

/** An instant given on the command line, as epoch milliseconds: ISO 8601 or epoch ms. */
export function parseInstant(value: string, option: string): number {
  const text = value.trim();
  const ms = /^\d+$/.test(text) ? Number(text) : isoInstant.test(text) ? Date.parse(text) : NaN;
  if (!Number.isSafeInteger(ms)) {
    throw new Error(
      `${option} must be an ISO time with a zone (2026-11-27T09:30:00Z, 2026-11-27T15:00+05:30, 2026-11-27) or epoch milliseconds, not ${value}`,
    );
  }
  return ms;
}

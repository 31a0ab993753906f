import { z } from 'zod';
import { KooError } from '../errors/koo-error.ts';

/**
 * Parses the environment with a zod schema whose keys are the variable names. Defaults live in the
 * schema, so the schema is the one place a setting is described; the error names every variable
 * that is wrong and why.
 */
export function loadConfig<S extends z.ZodObject>(
  schema: S,
  env: Record<string, string | undefined> = process.env,
): z.infer<S> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const name = issue.path.join('.') || '(environment)';
    return `${name} (${shownValue(name, env[String(issue.path[0])])}): ${issue.message}`;
  });
  throw new KooError('CONFIG_INVALID', `invalid configuration: ${problems.join('; ')}`, {
    details: { variables: result.error.issues.map((i) => i.path.join('.')) },
  });
}

/** A value as an error may print it: secrets are not printed, a URL's password is masked. */
function shownValue(name: string, value: string | undefined): string {
  if (value === undefined) return 'unset';
  if (/PASSWORD|SECRET|TOKEN/.test(name)) return value === '' ? 'empty' : 'set, not shown';
  return JSON.stringify(value.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*:)[^@/]*@/i, '$1***@'));
}

// Field builders shared by every component's schema.
export const env = {
  string: (def?: string) => (def === undefined ? z.string().min(1) : z.string().min(1).default(def)),
  int: (def: number, min = 0, max = Number.MAX_SAFE_INTEGER) =>
    z.coerce
      .number({ message: 'must be a number' })
      .int('must be a whole number')
      .min(min, `must be at least ${min}`)
      .max(max, `must be at most ${max}`)
      .default(def),
  number: (def: number, min = 0) =>
    z.coerce.number({ message: 'must be a number' }).min(min, `must be at least ${min}`).default(def),
  bool: (def: boolean) =>
    z
      .enum(['true', 'false', '1', '0'], { message: 'must be true or false' })
      .default(def ? 'true' : 'false')
      .transform((v) => v === 'true' || v === '1'),
  /** Unset or empty: undefined (Kubernetes renders an absent optional value as an empty string). */
  optionalString: () =>
    z
      .string()
      .optional()
      .transform((v) => (v === '' ? undefined : v)),
  url: (def?: string) => (def === undefined ? z.url('must be a URL') : z.url('must be a URL').default(def)),
  list: (def: string) =>
    z
      .string()
      .default(def)
      .transform((v) =>
        v
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
      )
      .refine((v) => v.length > 0, 'must name at least one value'),
  /** A URL with a default when unset; set empty it means none (an AWS endpoint: the SDK picks the regional one). */
  optionalUrl: (def: string) =>
    z
      .string()
      .default(def)
      .transform((v) => (v === '' ? undefined : v))
      .pipe(z.url('must be a URL').optional()),
  level: () => z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
};

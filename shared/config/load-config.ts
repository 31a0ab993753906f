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
    const value = env[String(issue.path[0])];
    const shown = value === undefined ? 'unset' : JSON.stringify(value);
    return `${name} (${shown}): ${issue.message}`;
  });
  throw new KooError('CONFIG_INVALID', `invalid configuration: ${problems.join('; ')}`, {
    details: { variables: result.error.issues.map((i) => i.path.join('.')) },
  });
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

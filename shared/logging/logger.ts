import { pino, type Logger } from 'pino';

export type { Logger };

/** JSON logs, one named child per component, so every line says where it comes from. */
export function createLogger(component: string, level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, base: { component, pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime });
}

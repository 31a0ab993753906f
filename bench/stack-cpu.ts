import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const stackDir = process.env.KOO_STACK_DIR ?? join(process.cwd(), '.stack');

/** The pid of a service of the local stack (`npm run stack -- up` writes them), or undefined when it is not local. */
export function stackPid(service: 'dynamodb' | 'kafka'): number | undefined {
  try {
    return Number(readFileSync(join(stackDir, 'run', `${service}.pid`), 'utf8'));
  } catch {
    return undefined;
  }
}

/** CPU time (user + system) a process has used so far, in ms, from /proc; undefined where it cannot be read. */
function processCpuMs(pid: number): number | undefined {
  try {
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticksPerMs = 100 / 1000; // USER_HZ, 100 on Linux
    return (Number(fields[11]) + Number(fields[12])) / ticksPerMs;
  } catch {
    return undefined;
  }
}

/**
 * CPU used between two readings by this process (the consumer under test runs in it), the
 * stack's DynamoDB server and its Kafka broker: on two shared cores, what bounds a consumer.
 */
export function cpuMeter(): () => Record<string, number> {
  const services = { dynamodb: stackPid('dynamodb'), kafka: stackPid('kafka') };
  const start = process.cpuUsage();
  const before = Object.fromEntries(
    Object.entries(services).map(([name, pid]) => [name, pid && processCpuMs(pid)]),
  );
  return () => {
    const own = process.cpuUsage(start);
    const used: Record<string, number> = { consumer: (own.user + own.system) / 1000 };
    for (const [name, pid] of Object.entries(services)) {
      const after = pid && processCpuMs(pid);
      const was = before[name];
      if (after !== undefined && was !== undefined) used[name] = after - was;
    }
    return used;
  };
}

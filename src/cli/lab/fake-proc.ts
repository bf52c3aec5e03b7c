/** Test builders: a /proc of made-up processes, for the pid checks of lab-state.ts. */
import type { ProcRead } from './process-start.js';

/** A /proc/<pid>/stat line: starttime is field 22, the 20th after `(comm) `. */
export function statLine(pid: number, comm: string, ticks: number, state = 'S'): string {
  return `${pid} (${comm}) ${state} ${Array(18).fill('1').join(' ')} ${ticks} 0 0\n`;
}

/** A /proc on boot `boot` holding the given processes: pid → start ticks, undefined for none. */
export function fakeProc(
  boot: string,
  ticks: Record<number, number> | ((pid: number) => number | undefined),
): ProcRead {
  const ticksOf = typeof ticks === 'function' ? ticks : (pid: number) => ticks[pid];
  return (path) => {
    if (path === '/proc/sys/kernel/random/boot_id') return `${boot}\n`;
    const pid = Number(/^\/proc\/(\d+)\/stat$/.exec(path)?.[1]);
    const t = ticksOf(pid);
    return t === undefined ? undefined : statLine(pid, 'node', t);
  };
}

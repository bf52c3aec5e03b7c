/**
 * Telling a recorded pid from a later process that got the same pid: after a reboot or a crashed
 * lab, state.json may name pids the kernel has since given to unrelated processes. A process's start
 * time (proc(5): /proc/<pid>/stat field 22, clock ticks since boot) and the boot id together name
 * one process for good: a reused pid starts later, and a reboot changes the boot id.
 */
import { readFileSync } from 'node:fs';

/** A file under /proc, or undefined where there is none (no such process, or no /proc). */
export type ProcRead = (path: string) => string | undefined;

export const readProc: ProcRead = (path) => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
};

/** `<boot id>/<start ticks>` of `pid`; undefined when it does not run, or without /proc (not Linux). */
export function processStart(pid: number, read: ProcRead = readProc): string | undefined {
  const boot = read('/proc/sys/kernel/random/boot_id')?.trim();
  const stat = read(`/proc/${pid}/stat`);
  if (!boot || stat === undefined) return undefined;
  // `pid (comm) state ppid …`: comm may hold spaces and ')', so count from after the last ')'.
  // There `state` is field 3 of proc(5); starttime, field 22, is 19 further on.
  const ticks = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  return ticks && /^\d+$/.test(ticks) ? `${boot}/${ticks}` : undefined;
}

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

/**
 * `<boot id>/<start ticks>` of `pid`; undefined when it does not run (a zombie included: it has
 * exited, only its parent has not reaped it yet), or without /proc (not Linux).
 */
export function processStart(pid: number, read: ProcRead = readProc): string | undefined {
  const boot = read('/proc/sys/kernel/random/boot_id')?.trim();
  const fields = statFields(pid, read);
  if (!boot || fields === undefined || fields[0] === 'Z') return undefined;
  // starttime, field 22 of proc(5), is 19 after state (field 3).
  const ticks = fields[19];
  return ticks && /^\d+$/.test(ticks) ? `${boot}/${ticks}` : undefined;
}

/** Whether `pid` is a zombie: exited, not yet reaped by its parent (false without /proc). */
export function isZombie(pid: number, read: ProcRead = readProc): boolean {
  return statFields(pid, read)?.[0] === 'Z';
}

/** /proc/<pid>/stat from `state` (field 3) on. */
function statFields(pid: number, read: ProcRead): string[] | undefined {
  const stat = read(`/proc/${pid}/stat`);
  // `pid (comm) state ppid …`: comm may hold spaces and ')', so count from after the last ')'.
  return stat === undefined ? undefined : stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

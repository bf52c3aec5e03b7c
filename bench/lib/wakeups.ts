/**
 * Voluntary context switches of a process (all its threads): each is a moment the process had
 * nothing to do and went to sleep in the kernel, so each costs a wake-up later. On a VM whose
 * idle vCPUs halt, waking is expensive (bench/wakeup-cost.ts), so sleeps per request explain a
 * proxy that leaves cores idle under load.
 */
import { readdirSync, readFileSync } from 'node:fs';

export function voluntarySwitchesOf(pid: number): number {
  let sum = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      sum += parseVoluntarySwitches(readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8'));
    } catch {
      // The thread exited between readdir and read.
    }
  }
  return sum;
}

/** `voluntary_ctxt_switches:` of a /proc status file; 0 when absent. */
export function parseVoluntarySwitches(status: string): number {
  const m = /^voluntary_ctxt_switches:\s+(\d+)/m.exec(status);
  return m ? Number(m[1]) : 0;
}

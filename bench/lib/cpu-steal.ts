/**
 * CPU time stolen by the hypervisor (the `steal` column of /proc/stat): on a shared VM, other
 * guests take cores away in bursts, and a run that lost a quarter of its CPU to them is not
 * comparable with one that lost none. The benchmarks print it next to the load average.
 */
import { readFileSync } from 'node:fs';

export interface CpuTimes {
  /** Every jiffy of every state, summed over all CPUs. */
  total: number;
  steal: number;
  /** idle + iowait: time no process wanted a core. */
  idle: number;
}

/** The aggregate `cpu` line of /proc/stat; undefined when it is missing (not Linux). */
export function parseProcStat(text: string): CpuTimes | undefined {
  const line = text.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) return undefined;
  // user nice system idle iowait irq softirq steal guest guest_nice; guest time is already in user.
  const fields = line.trim().split(/\s+/).slice(1, 9).map(Number);
  if (fields.length < 8 || fields.some((n) => !Number.isFinite(n))) return undefined;
  return { total: fields.reduce((a, b) => a + b, 0), steal: fields[7]!, idle: fields[3]! + fields[4]! };
}

/** Share of all CPU time stolen between two readings, in percent. */
export function stealPercent(before: CpuTimes, after: CpuTimes): number {
  const total = after.total - before.total;
  return total > 0 ? (100 * (after.steal - before.steal)) / total : 0;
}

/** Share of all CPU time left idle between two readings, in percent. */
export function idlePercent(before: CpuTimes, after: CpuTimes): number {
  const total = after.total - before.total;
  return total > 0 ? (100 * (after.idle - before.idle)) / total : 0;
}

export function readCpuTimes(): CpuTimes | undefined {
  try {
    return parseProcStat(readFileSync('/proc/stat', 'utf8'));
  } catch {
    return undefined;
  }
}

/** Starts measuring; the returned function gives the stolen share since then ("n/a" off Linux). */
export function stealMeter(): () => string {
  const start = readCpuTimes();
  return () => {
    const now = readCpuTimes();
    return start && now ? `${stealPercent(start, now).toFixed(1)} %` : 'n/a';
  };
}

/**
 * What a wrk run cost the proxies: CPU time per request of each proxy process, and the share of
 * the machine's CPU left idle meanwhile. Under load a proxy batches many connections per event-loop
 * turn, so its cost per request is far below the closed loop's; and idle cores while wrk saturates
 * the path mean the processes are waiting on each other (scheduling, wake-ups), not on CPU.
 */
import { cpuSecondsOf } from '../mirror/observe.js';
import { idlePercent, readCpuTimes } from './cpu-steal.js';
import { voluntarySwitchesOf } from './wakeups.js';
import type { WrkResult } from './wrk.js';

export interface LoadCost {
  /** CPU µs per request, one entry per proxy process (east, west); empty for the direct path. */
  cpuUsPerRequest: number[];
  /** Voluntary context switches (sleeps) per request, each proxy process. */
  sleepsPerRequest: number[];
  /** Share of all CPU time idle during the run, in percent; undefined off Linux. */
  idlePercent?: number;
}

export async function withLoadCost(
  pids: number[],
  run: () => Promise<WrkResult>,
): Promise<WrkResult & { cost: LoadCost }> {
  const cpu = pids.map(cpuSecondsOf);
  const sleeps = pids.map(voluntarySwitchesOf);
  const machine = readCpuTimes();
  const r = await run();
  const machineAfter = readCpuTimes();
  const perRequest = (now: number, before: number) => (r.requests > 0 ? (now - before) / r.requests : 0);
  return {
    ...r,
    cost: {
      cpuUsPerRequest: pids.map((pid, i) => perRequest(cpuSecondsOf(pid), cpu[i]!) * 1e6),
      sleepsPerRequest: pids.map((pid, i) => perRequest(voluntarySwitchesOf(pid), sleeps[i]!)),
      ...(machine && machineAfter ? { idlePercent: idlePercent(machine, machineAfter) } : {}),
    },
  };
}

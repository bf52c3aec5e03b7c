/**
 * Summary of a V8 `.cpuprofile` (from `node --cpu-prof`): self time per function, largest first,
 * so the hot spots of a gateway process can be named precisely (function, file:line, share).
 */
import { readFile } from 'node:fs/promises';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface HotSpot {
  function: string;
  /** file:line (1-based), shortened to the repository or node: path. */
  location: string;
  selfMs: number;
  share: number;
}

function shorten(url: string): string {
  const i = url.indexOf('/dist/');
  if (i >= 0) return url.slice(i + 1);
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) return url.slice(nm + 1);
  return url === '' ? '(native)' : url;
}

/** Self time per function (samples weighted by their time deltas), top `limit`. */
export function hotSpots(
  profile: CpuProfile,
  limit = 25,
): { totalMs: number; idleMs: number; top: HotSpot[] } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, HotSpot>();
  let totalUs = 0;
  let idleUs = 0;
  profile.samples.forEach((id, i) => {
    const us = profile.timeDeltas[i] ?? 0;
    const frame = byId.get(id)?.callFrame;
    if (frame === undefined) return;
    totalUs += us;
    if (frame.functionName === '(idle)') {
      idleUs += us;
      return;
    }
    const location = `${shorten(frame.url)}${frame.url ? `:${frame.lineNumber + 1}` : ''}`;
    const name = frame.functionName || '(anonymous)';
    const key = `${name} ${location}`;
    const spot = self.get(key) ?? { function: name, location, selfMs: 0, share: 0 };
    spot.selfMs += us / 1_000;
    self.set(key, spot);
  });
  const busyMs = (totalUs - idleUs) / 1_000;
  const top = [...self.values()]
    .sort((a, b) => b.selfMs - a.selfMs)
    .slice(0, limit)
    .map((s) => ({ ...s, share: busyMs > 0 ? s.selfMs / busyMs : 0 }));
  return { totalMs: totalUs / 1_000, idleMs: idleUs / 1_000, top };
}

export async function summariseProfileFile(file: string, limit = 25): Promise<string> {
  const { totalMs, idleMs, top } = hotSpots(JSON.parse(await readFile(file, 'utf8')) as CpuProfile, limit);
  const own = ownInclusive(JSON.parse(await readFile(file, 'utf8')) as CpuProfile);
  const lines = [
    `${file}: ${(totalMs / 1_000).toFixed(1)} s sampled, ${((1 - idleMs / totalMs) * 100).toFixed(0)}% busy; self time (share of busy):`,
    ...top.map(
      (s) =>
        `  ${(s.share * 100).toFixed(1).padStart(5)}%  ${s.selfMs.toFixed(0).padStart(7)} ms  ${s.function}  ${s.location}`,
    ),
    'inclusive time of our own functions (share of busy):',
    ...own.map(
      (s) =>
        `  ${(s.share * 100).toFixed(1).padStart(5)}%  ${s.selfMs.toFixed(0).padStart(7)} ms  ${s.function}  ${s.location}`,
    ),
  ];
  return lines.join('\n');
}

/**
 * Inclusive time of the project's own functions (frames under dist/): self time says where the CPU
 * went, this says which of our code paths sent it there.
 */
export function ownInclusive(profile: CpuProfile, limit = 15): HotSpot[] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const total = new Map<string, HotSpot>();
  let busyUs = 0;
  profile.samples.forEach((id, i) => {
    const us = profile.timeDeltas[i] ?? 0;
    if (byId.get(id)?.callFrame.functionName === '(idle)') return;
    busyUs += us;
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at)?.callFrame;
      if (!frame?.url.includes('/dist/')) continue;
      const location = `${shorten(frame.url)}:${frame.lineNumber + 1}`;
      const key = `${frame.functionName} ${location}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const spot = total.get(key) ?? {
        function: frame.functionName || '(anonymous)',
        location,
        selfMs: 0,
        share: 0,
      };
      spot.selfMs += us / 1_000;
      total.set(key, spot);
    }
  });
  return [...total.values()]
    .sort((a, b) => b.selfMs - a.selfMs)
    .slice(0, limit)
    .map((s) => ({ ...s, share: busyUs > 0 ? s.selfMs / (busyUs / 1_000) : 0 }));
}

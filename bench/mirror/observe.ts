/**
 * What the benchmark reads about the controller from outside: RSS from /proc, Prometheus samples
 * from its admin /metrics, and its write requests from the preloaded request counter.
 */
import { readFileSync } from 'node:fs';

/** VmRSS (current) and VmHWM (peak resident set), in MB, of a live process (Linux /proc). */
export function memoryOf(pid: number): { rssMb: number; peakMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  return { rssMb: kb('VmRSS') / 1024, peakMb: kb('VmHWM') / 1024 };
}

/**
 * CPU seconds (user + system) a live process has used (/proc/<pid>/stat fields 14 and 15, in clock
 * ticks of 100 Hz on Linux). Unlike wall-clock time this does not depend on what else the machine runs.
 */
export function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may contain spaces; count fields after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Sum of the samples of `name` whose labels include `labels`, from Prometheus text format. */
export function metricSum(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = m[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => have.includes(`${k}="${v}"`))) sum += Number(m[3]);
  }
  return sum;
}

export async function scrape(adminUrl: string): Promise<string> {
  const res = await fetch(`${adminUrl}/metrics`, { signal: AbortSignal.timeout(5000) });
  return res.text();
}

const WRITE_VERBS = new Set(['create', 'update', 'patch', 'delete']);

/**
 * Write requests to one API server (`host:port`) by resource, from two request-counter snapshots:
 * `{ services: 10000, endpointslices: 10000, 'links/status': 3, events: 2 }`. Failed writes are
 * counted under `<resource> <status>`.
 */
export function writesByResource(
  before: Record<string, number>,
  after: Record<string, number>,
  server: string,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, n] of Object.entries(after)) {
    const [host, verb, resource, status] = key.split(' ');
    if (host !== server || !WRITE_VERBS.has(verb ?? '')) continue;
    const delta = n - (before[key] ?? 0);
    if (delta <= 0) continue;
    const label = `${verb} ${resource}${status ? ` ${status}` : ''}`;
    out[label] = (out[label] ?? 0) + delta;
  }
  return out;
}

export function total(counts: Record<string, number>): number {
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

/** Nearest-rank percentile (p in 0..100) of unsorted samples. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/**
 * Latency at a fixed request rate: several h2load processes (HTTP/1.1, one keep-alive client
 * each, `--rps`) started at staggered offsets so that their requests interleave instead of
 * arriving in bursts. h2load's own summary gives per-run statistics only, so each run writes
 * `--log-file` (per request: start µs since epoch, status, µs to end of response) and exact
 * percentiles are computed over all runs merged.
 */
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { runToEnd } from './procs.js';
import { which } from './tools.js';

export interface LatencySample {
  startUs: number;
  status: number;
  latencyUs: number;
}

export function parseH2loadLog(text: string): LatencySample[] {
  const out: LatencySample[] = [];
  for (const line of text.split('\n')) {
    const [start, status, latency] = line.split('\t');
    if (start === undefined || status === undefined || latency === undefined) continue;
    out.push({ startUs: Number(start), status: Number(status), latencyUs: Number(latency) });
  }
  return out;
}

/** Nearest-rank percentile (p in 0..100) of sorted values. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export interface LatencyResult {
  /** Requests that completed with status 200 in the measured window. */
  count: number;
  errors: number;
  /** Achieved request rate over the measured window. */
  rate: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** Merges samples of all runs, drops the first `warmupMs`, and computes percentiles. */
export function summarise(samples: readonly LatencySample[], warmupMs: number): LatencyResult {
  if (samples.length === 0) throw new Error('h2load logged no requests');
  const first = Math.min(...samples.map((s) => s.startUs));
  const measured = samples.filter((s) => s.startUs >= first + warmupMs * 1_000);
  const ok = measured.filter((s) => s.status === 200);
  const sorted = ok.map((s) => s.latencyUs).sort((a, b) => a - b);
  const starts = measured.map((s) => s.startUs);
  const spanSec = (Math.max(...starts) - Math.min(...starts)) / 1e6;
  return {
    count: ok.length,
    errors: measured.length - ok.length,
    rate: spanSec > 0 ? measured.length / spanSec : 0,
    p50Ms: percentile(sorted, 50) / 1_000,
    p99Ms: percentile(sorted, 99) / 1_000,
    maxMs: (sorted.at(-1) ?? Number.NaN) / 1_000,
  };
}

export interface FixedRateOptions {
  url: string;
  dir: string;
  /** Total rate across all runs. */
  rate: number;
  runs: number;
  durationSec: number;
  warmupMs: number;
}

let seriesCount = 0;

export async function runFixedRate(o: FixedRateOptions): Promise<LatencyResult> {
  const perRun = o.rate / o.runs;
  if (!Number.isInteger(perRun)) throw new Error(`rate ${o.rate} does not split evenly over ${o.runs} runs`);
  // Run i starts i/runs of one request interval after run 0 so that their requests interleave; process
  // start-up jitter (milliseconds on a busy machine) blurs this, which leaves the phases spread at random.
  const offsetMs = 1_000 / perRun / o.runs;
  const bin = which('h2load') ?? 'h2load';
  const series = ++seriesCount;
  const runs = Array.from({ length: o.runs }, async (_, i) => {
    await new Promise((r) => setTimeout(r, i * offsetMs));
    // h2load appends to an existing --log-file: every run gets a file of its own, emptied first.
    const logFile = join(o.dir, `h2load-${series}-${i}.log`);
    await rm(logFile, { force: true });
    const n = perRun * o.durationSec;
    await runToEnd(
      `h2load-${i}`,
      bin,
      ['--h1', '-n', String(n), '-c', '1', '--rps', String(perRun), '--log-file', logFile, o.url],
      (o.durationSec + 30) * 1_000,
    );
    return parseH2loadLog(await readFile(logFile, 'utf8'));
  });
  return summarise((await Promise.all(runs)).flat(), o.warmupMs);
}

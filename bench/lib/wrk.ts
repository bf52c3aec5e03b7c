/**
 * Throughput with wrk: keep-alive (every connection reused) and one new connection per request
 * (`Connection: close`, so req/s = new connections/s). Output parsed from wrk's summary.
 */
import type { LoadCost } from './load-cost.js';
import { runToEnd } from './procs.js';
import { which } from './tools.js';

export interface WrkResult {
  requests: number;
  requestsPerSec: number;
  /** connect + read + write + timeout socket errors; non-zero means the number is suspect. */
  socketErrors: number;
  non2xx: number;
  /** What the run cost the proxies (bench/lib/load-cost.ts), when measured. */
  cost?: LoadCost;
}

export function parseWrk(output: string): WrkResult {
  const num = (re: RegExp): number | undefined => {
    const m = re.exec(output);
    return m?.[1] === undefined ? undefined : Number(m[1]);
  };
  const requestsPerSec = num(/^Requests\/sec:\s+([\d.]+)/m);
  const requests = num(/^\s*(\d+) requests in /m);
  if (requestsPerSec === undefined || requests === undefined) {
    throw new Error(`unrecognised wrk output:\n${output}`);
  }
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  const socketErrors = errors ? errors.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0;
  return { requests, requestsPerSec, socketErrors, non2xx: num(/Non-2xx or 3xx responses: (\d+)/) ?? 0 };
}

export interface WrkOptions {
  url: string;
  threads: number;
  connections: number;
  durationSec: number;
  /** New connection per request. */
  close?: boolean;
}

export async function runWrk(o: WrkOptions): Promise<WrkResult> {
  const args = [`-t${o.threads}`, `-c${o.connections}`, `-d${o.durationSec}s`, '--timeout', '5s'];
  if (o.close) args.push('-H', 'Connection: close');
  args.push(o.url);
  const { stdout } = await runToEnd('wrk', which('wrk') ?? 'wrk', args, (o.durationSec + 30) * 1_000);
  return parseWrk(stdout);
}

/**
 * One figure from several rounds of the same run: the round with the median req/s, carrying the
 * errors of every round (a failure in any round must still mark the path).
 */
export function medianRun(runs: WrkResult[]): WrkResult {
  if (runs.length === 0) throw new Error('medianRun: no runs');
  const sorted = [...runs].sort((a, b) => a.requestsPerSec - b.requestsPerSec);
  const median = sorted[(sorted.length - 1) >> 1]!;
  const sum = (f: (r: WrkResult) => number) => runs.reduce((total, r) => total + f(r), 0);
  return { ...median, socketErrors: sum((r) => r.socketErrors), non2xx: sum((r) => r.non2xx) };
}

/**
 * The failover bench's report (`npm run bench:failover`): for each direction the spread of its
 * rounds (min / p50 / max, nearest-rank like every percentile of the benches), the ratio to the
 * requirement's 1 s and the verdict, as rows for the console, a verdict line, and the `## Failover`
 * section of docs/benchmarks.md. Pure: data in, text out.
 */
import { percentile } from './h2load.js';

/** The requirement: primary endpoints go not ready → callers of the apex reach a remote cluster within 1 s. */
export const FAILOVER_GOAL_MS = 1_000;

export interface Spread {
  count: number;
  minMs: number;
  p50Ms: number;
  maxMs: number;
}

export function spread(samplesMs: readonly number[]): Spread {
  if (samplesMs.length === 0) throw new Error('no rounds to summarise');
  const sorted = [...samplesMs].sort((a, b) => a - b);
  return { count: sorted.length, minMs: sorted[0]!, p50Ms: percentile(sorted, 50), maxMs: sorted.at(-1)! };
}

/** Met when every round is under the goal: the requirement holds for each failover, not on average. */
export function meetsGoal(s: Spread, goalMs = FAILOVER_GOAL_MS): boolean {
  return s.maxMs < goalMs;
}

export interface FailoverBenchResult {
  /** ISO date-time of the run. */
  date: string;
  /** e.g. `2 × AMD EPYC, Node v20.20.2`. */
  machine: string;
  /** Per round: primary made not ready → first answer through the apex from a remote cluster (ms). */
  failoverMs: number[];
  /** Per round: primary ready again → the apex lists only the primary, and it answers (ms). */
  backMs: number[];
  /** 1-minute load average at the end of the rounds. */
  load: string;
  /** Share of all CPU time stolen by the hypervisor during the rounds. */
  stolen: string;
  /**
   * Time the controllers' client in east (the mirror and failover controllers share one, with one
   * client-side rate limiter) waited on that limiter during the rounds: above 0, the times include
   * throttling, not only reaction.
   */
  rateLimitWaitMs: number;
  /** Requests of the controllers' client per round (a failover and a return). */
  requestsPerRound: number;
  /** How long the controllers' client was left quiet before each transition (ms). */
  restMs: number;
}

export interface ReportRow {
  metric: string;
  goal: string;
  min: string;
  p50: string;
  max: string;
  p50Ratio: string;
  maxRatio: string;
  met: string;
}

const ms = (n: number): string => `${Math.round(n)}`;
const times = (n: number): string => `${(n / FAILOVER_GOAL_MS).toFixed(2)}×`;

function row(metric: string, goal: string, s: Spread, met: string): ReportRow {
  return {
    metric,
    goal,
    min: ms(s.minMs),
    p50: ms(s.p50Ms),
    max: ms(s.maxMs),
    p50Ratio: times(s.p50Ms),
    maxRatio: times(s.maxMs),
    met,
  };
}

export function failoverRows(r: FailoverBenchResult): ReportRow[] {
  const out = spread(r.failoverMs);
  const rows = [
    row(
      'failover: primary not ready → first answer from a remote cluster (ms)',
      `< ${FAILOVER_GOAL_MS} in every round`,
      out,
      meetsGoal(out) ? '✓' : '×',
    ),
  ];
  if (r.backMs.length > 0)
    rows.push(
      row(
        'back: primary ready again → every new connection to the primary (ms)',
        `none; ratios to ${FAILOVER_GOAL_MS} ms for scale`,
        spread(r.backMs),
        '—',
      ),
    );
  return rows;
}

/** One line: PASS or FAIL against the goal, with the worst round and how many rounds missed it. */
export function verdict(r: FailoverBenchResult): string {
  const s = spread(r.failoverMs);
  const missed = r.failoverMs.filter((t) => t >= FAILOVER_GOAL_MS).length;
  return meetsGoal(s)
    ? `PASS: failover under ${FAILOVER_GOAL_MS} ms in all ${s.count} rounds (worst ${ms(s.maxMs)} ms = ${times(s.maxMs)} the goal, p50 ${ms(s.p50Ms)} ms = ${times(s.p50Ms)})`
    : `FAIL: failover took ${FAILOVER_GOAL_MS} ms or more in ${missed} of ${s.count} rounds (worst ${ms(s.maxMs)} ms = ${times(s.maxMs)} the goal, p50 ${ms(s.p50Ms)} ms = ${times(s.p50Ms)})`;
}

export const ROW_HEAD = ['metric', 'goal', 'min', 'p50', 'max', 'p50 ÷ goal', 'max ÷ goal', 'met'] as const;

export function rowCells(r: ReportRow): string[] {
  return [r.metric, r.goal, r.min, r.p50, r.max, r.p50Ratio, r.maxRatio, r.met];
}

/** The `## Failover` section of docs/benchmarks.md (heading included). */
export function renderFailoverSection(r: FailoverBenchResult): string {
  const rows = failoverRows(r);
  return [
    '## Failover',
    '',
    `\`npm run bench:failover\` — ${r.date.slice(0, 10)}, ${r.machine}; ${r.failoverMs.length} rounds, load average ${r.load} at the end, CPU stolen by the hypervisor ${r.stolen}.`,
    '',
    'The requirement "primary endpoints go not ready → callers of the apex reach a remote cluster within 1 s", ' +
      'timed in the world of `src/failover/e2e/data-path.test.ts` (which asserts the behaviour): three sandbox clusters, ' +
      'real gateways and mTLS tunnels, the real mirror controller probing the remote gateways, the failover controller, ' +
      'and the kube-proxy stand-in `e2e/service-proxy.ts` in front of the apex `podinfo` (split 1/0/0 over `podinfo`, ' +
      '`podinfo-west`, `podinfo-north`), all in one process. Each round starts with every connection on the primary; ' +
      "the clock starts before the primary's EndpointSlice is patched not ready, and stops at the first request through " +
      "the apex answered by west or north (one new connection every 5 ms). Back: from the patch to ready until the apex's " +
      'only endpoint is the primary and a request through it is answered by east. The bench patches and reads through a ' +
      "client of its own, so its polling does not spend the controllers' rate limit, and each transition waits until the " +
      `controllers' client (one for both controllers, client-side limit 50 qps, burst 100) has sent nothing for ${ms(r.restMs)} ms, ` +
      `so no round pays for the previous one's writes: ${r.requestsPerRound.toFixed(1)} requests per round, ` +
      `${ms(r.rateLimitWaitMs)} ms waited on that limiter in all.`,
    '',
    `| ${ROW_HEAD.join(' | ')} |`,
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | :---: |',
    ...rows.map((x) => `| ${rowCells(x).join(' | ')} |`),
    '',
    `${verdict(r)}.`,
    '',
    `Rounds (ms), failover: ${r.failoverMs.map(ms).join(', ')}${r.backMs.length > 0 ? `; back: ${r.backMs.map(ms).join(', ')}` : ''}.`,
    '',
  ].join('\n');
}

/**
 * Renders the mirror benchmark's results: a console table and the `## Mirror` section of
 * docs/benchmarks.md (only that section is replaced; the Gateway section belongs to another bench).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { FloorResult } from './floor.js';
import { exportPercentiles, type ScenarioResult } from './scenario.js';

/** Targets from the issue ("Benchmark", `npm run bench:mirror`). */
export const TARGETS = {
  syncRatio: 1.25,
  writesPerService: 2,
  restartWrites: 0,
  exportP99Ms: 500,
  rssMb: 250,
} as const;

export interface Row {
  metric: string;
  target: string;
  values: string[];
}

const mark = (ok: boolean) => (ok ? '✓' : '×');
const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');

export function rows(
  floors: readonly FloorResult[],
  runs: readonly ScenarioResult[],
  mirrored: number,
): Row[] {
  const cell = (fn: (r: ScenarioResult) => string) => runs.map(fn);
  return [
    {
      metric: 'initial sync (s), to every mirror ready',
      target: `≤ ${TARGETS.syncRatio}× floor`,
      values: runs.map((r, i) => {
        const floor = floors[i]?.seconds ?? Number.NaN;
        const ratio = r.syncSeconds / floor;
        return `${fmt(r.syncSeconds)} s = ${fmt(ratio, 2)}× the floor's ${fmt(floor)} s ${mark(ratio <= TARGETS.syncRatio)}`;
      }),
    },
    {
      metric: 'API server CPU during sync (s)',
      target: 'vs the floor’s server CPU',
      values: runs.map((r, i) => {
        const floor = floors[i]?.serverCpuSeconds ?? Number.NaN;
        return `${fmt(r.serverCpuSeconds)} s = ${fmt(r.serverCpuSeconds / floor, 2)}× the floor's ${fmt(floor)} s`;
      }),
    },
    {
      metric: 'client CPU during sync (s)',
      target: 'vs the floor’s bare client (its creates and ready watch)',
      values: runs.map((r, i) => {
        const client = floors[i]?.clientCpuSeconds ?? Number.NaN;
        return `controller ${fmt(r.controllerCpuSeconds)} s = ${fmt(r.controllerCpuSeconds / client, 2)}× the bare client's ${fmt(client)} s`;
      }),
    },
    {
      metric: 'API writes per mirrored Service (sync)',
      target: `${TARGETS.writesPerService} (1 Service + 1 EndpointSlice)`,
      values: cell((r) => {
        const per = r.syncWrites / mirrored;
        return `${fmt(per, 3)} ${mark(per <= TARGETS.writesPerService + 0.01)}`;
      }),
    },
    {
      metric: 'syncs per mirrored Service (sync)',
      target: '1 (echoes of its own writes queue none)',
      values: cell((r) => fmt(r.syncs / mirrored, 3)),
    },
    {
      metric: 'writes by resource (sync)',
      target: 'status batched',
      values: cell((r) =>
        Object.entries(r.syncWritesByResource)
          .map(([k, v]) => `${k}: ${v}`)
          .join(', '),
      ),
    },
    {
      metric: 'writes after a restart in sync',
      target: String(TARGETS.restartWrites),
      values: cell((r) => `${r.restartWrites} ${mark(r.restartWrites <= TARGETS.restartWrites)}`),
    },
    {
      metric: 'single export → local ready p50 / p99 (ms)',
      target: `p99 ≤ ${TARGETS.exportP99Ms}`,
      values: cell((r) => {
        const p = exportPercentiles(r.exportMs);
        return `${fmt(p.p50, 0)} / ${fmt(p.p99, 0)} ${mark(p.p99 <= TARGETS.exportP99Ms)}`;
      }),
    },
    {
      metric: 'controller RSS peak / steady (MB)',
      target: `≤ ${TARGETS.rssMb}`,
      values: cell(
        (r) =>
          `${fmt(r.peakRssMb, 0)} / ${fmt(r.steadyRssMb, 0)} (V8 heap ${fmt(r.steadyHeapMb, 0)}) ${mark(r.peakRssMb <= TARGETS.rssMb)}`,
      ),
    },
  ];
}

export function markdownTable(runs: readonly ScenarioResult[], table: readonly Row[]): string {
  const header = `| metric | target | ${runs.map((r) => `rate limit ${r.qps}`).join(' | ')} |`;
  const rule = `| --- | --- | ${runs.map(() => '---').join(' | ')} |`;
  return [header, rule, ...table.map((r) => `| ${r.metric} | ${r.target} | ${r.values.join(' | ')} |`)].join(
    '\n',
  );
}

/** Replaces (or appends) the `heading` section, leaving every other section as it was. */
export function replaceSection(doc: string, heading: string, body: string): string {
  const section = `${heading}\n\n${body.trim()}\n`;
  // Only a whole heading line counts: `### Mirror details` or `## Mirrors` are not this section.
  const found = `\n${doc}`.indexOf(`\n${heading}\n`);
  if (found < 0) return `${doc.trimEnd()}\n\n${section}`;
  const at = found;
  const next = doc.indexOf('\n## ', at + heading.length);
  return next < 0 ? `${doc.slice(0, at)}${section}` : `${doc.slice(0, at)}${section}${doc.slice(next)}`;
}

export function writeSection(path: string, body: string): void {
  const doc = existsSync(path) ? readFileSync(path, 'utf8') : '# Benchmarks\n';
  writeFileSync(path, replaceSection(doc, '## Mirror', body));
}

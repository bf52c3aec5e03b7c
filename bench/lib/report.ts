/**
 * The gateway bench's report: one markdown section (`## Gateway`) with the table of the three
 * paths, the ratios to haproxy and each target met (✓) or missed (×). Pure: data in, text out;
 * `replaceSection` swaps the section into docs/benchmarks.md leaving other sections intact.
 */
import type { ClosedLoopResult } from './closed-loop.js';
import type { LatencyResult } from './h2load.js';
import type { IdleMemory } from './rss.js';
import type { WrkResult } from './wrk.js';

export type PathName = 'direct' | 'isthmus' | 'isthmusImage' | 'haproxy';
/** The paths every run measures; `isthmusImage` (the pair under the container image's Node) is optional. */
type CorePath = Exclude<PathName, 'isthmusImage'>;

export interface PathResult {
  keepAlive: WrkResult;
  /** The keep-alive test again at other wrk concurrencies (the median round of each), by connections. */
  keepAliveByConnections?: Record<number, WrkResult>;
  newConnections: WrkResult;
  latency: LatencyResult;
  /** One connection, requests back to back: the path's own latency and its CPU cost per request. */
  closedLoop?: ClosedLoopResult;
  /** Absent for the direct path (nothing in between to measure). */
  idle?: IdleMemory;
}

export interface GatewayBenchReport {
  date: string;
  machine: { nproc: number; cpu: string; node: string; loadavg: string };
  /** `git describe` of the tree the gateways were built from (`-dirty` when src/ had local changes). */
  revision: string;
  /** Load average (1/5/15 min) when the run started. */
  loadavgAtStart: string;
  /** Share of all CPU time the hypervisor gave to other guests during the run (/proc/stat steal). */
  stolenCpu: string;
  tools: Record<string, string>;
  settings: {
    keepAlive: string;
    newConnections: string;
    latency: string;
    idleTunnels: number;
    closedLoop?: string;
    /** wrk connections of the keep-alive test (the table's main column). */
    keepAliveConnections?: number;
  };
  paths: Record<CorePath, PathResult> & { isthmusImage?: PathResult };
  /** `node --version` of the container image's Node, which ran the `isthmusImage` pair. */
  imageNode?: string;
  notes: string[];
  /** Hand-written analysis (bench/gateway-analysis.md: profile findings), kept across runs. */
  analysis: string;
}

/** From the issue: what the product must reach, and what a rough prototype already reached. */
export const TARGETS = {
  keepAliveRatio: { target: 1.0, prototype: 0.86 },
  newConnectionsRatio: { target: 3.0, prototype: 3.7 },
  p50Ms: { target: 0.25, prototype: 0.28 },
  p99Ms: { target: 0.6, prototype: 0.72 },
  idleKiBPerTunnel: { target: 45, prototype: 45 },
} as const;

export interface TargetCheck {
  name: string;
  measured: number;
  target: string;
  prototype: string;
  met: boolean;
}

/** The targets, checked on one Isthmus pair: the machine's Node (`isthmus`) or the image's. */
export function checkTargets(r: GatewayBenchReport, i: PathResult = r.paths.isthmus): TargetCheck[] {
  const h = r.paths.haproxy;
  const keepAlive = i.keepAlive.requestsPerSec / h.keepAlive.requestsPerSec;
  const newConns = i.newConnections.requestsPerSec / h.newConnections.requestsPerSec;
  // RSS can fall while the tunnels open (V8 returns pages of garbage from the warm-up): then the
  // delta measures the collector, not the tunnels, and the target is not shown as met.
  const idle = perTunnelKiB(i);
  const t = TARGETS;
  return [
    {
      name: 'keep-alive throughput vs haproxy',
      measured: keepAlive,
      target: `≥ ${t.keepAliveRatio.target.toFixed(2)}×`,
      prototype: `${t.keepAliveRatio.prototype}×`,
      met: keepAlive >= t.keepAliveRatio.target,
    },
    {
      name: 'new connections/s vs haproxy',
      measured: newConns,
      target: `≥ ${t.newConnectionsRatio.target.toFixed(1)}×`,
      prototype: `${t.newConnectionsRatio.prototype}×`,
      met: newConns >= t.newConnectionsRatio.target,
    },
    {
      name: 'p50 at 1,000 req/s (ms)',
      measured: i.latency.p50Ms,
      target: `≤ ${t.p50Ms.target}`,
      prototype: `${t.p50Ms.prototype}`,
      met: i.latency.p50Ms <= t.p50Ms.target,
    },
    {
      name: 'p99 at 1,000 req/s (ms)',
      measured: i.latency.p99Ms,
      target: `≤ ${t.p99Ms.target}`,
      prototype: `${t.p99Ms.prototype}`,
      met: i.latency.p99Ms <= t.p99Ms.target,
    },
    {
      name: 'memory per idle tunnel (KiB)',
      measured: idle,
      target: `≤ ${t.idleKiBPerTunnel.target}`,
      prototype: `~${t.idleKiBPerTunnel.prototype}`,
      met: idle <= t.idleKiBPerTunnel.target,
    },
  ];
}

export const ORDER: PathName[] = ['direct', 'isthmus', 'isthmusImage', 'haproxy'];

/** The paths this report holds, in table order. */
function pathsOf(r: GatewayBenchReport): PathName[] {
  return ORDER.filter((name) => r.paths[name] !== undefined);
}

function pathOf(r: GatewayBenchReport, name: PathName): PathResult {
  const p = r.paths[name];
  if (!p) throw new Error(`no ${name} path in this report`);
  return p;
}

function label(r: GatewayBenchReport, name: PathName): string {
  const labels: Record<PathName, string> = {
    direct: '(a) direct: wrk → nginx',
    isthmus: `(b) Isthmus pair (Node ${r.machine.node}): east egress → mTLS h2 tunnel → west ingress → nginx`,
    isthmusImage: `(b′) the same Isthmus pair under Node ${r.imageNode ?? '?'}, the container image's runtime`,
    haproxy: '(c) haproxy pair: east → TLS 1.3 mTLS → west → nginx',
  };
  return labels[name];
}

function shortName(r: GatewayBenchReport, name: PathName): string {
  return name === 'isthmusImage' ? `isthmus on Node ${r.imageNode ?? '?'}` : name;
}

/** KiB per idle tunnel, or NaN when the RSS delta is not a measurement (zero or negative). */
function perTunnelKiB(p: PathResult): number {
  const kib = p.idle?.perTunnelKiB;
  return kib !== undefined && kib > 0 ? kib : Number.NaN;
}

const int = (n: number): string => Math.round(n).toLocaleString('en-US');
const ms = (n: number): string => n.toFixed(3);
const ratio = (a: number, b: number): string => `${(a / b).toFixed(2)}×`;

export function renderGatewaySection(r: GatewayBenchReport): string {
  const h = r.paths.haproxy;
  const rows = pathsOf(r).map((name) => {
    const p = pathOf(r, name);
    const failed = [p.keepAlive, p.newConnections].some((w) => w.socketErrors > 0 || w.non2xx > 0);
    const flags = failed || p.latency.errors > 0 ? ' ⚠' : '';
    return `| ${label(r, name)}${flags} | ${int(p.keepAlive.requestsPerSec)} | ${int(p.newConnections.requestsPerSec)} | ${ms(p.latency.p50Ms)} | ${ms(p.latency.p99Ms)} | ${int(p.latency.rate)} | ${!p.idle ? '—' : Number.isNaN(perTunnelKiB(p)) ? 'n/a (RSS fell)' : perTunnelKiB(p).toFixed(1)} |`;
  });
  const ratios = pathsOf(r)
    .filter((name) => name !== 'haproxy')
    .map((name) => {
      const p = pathOf(r, name);
      return `| ${shortName(r, name)} ÷ haproxy | ${ratio(p.keepAlive.requestsPerSec, h.keepAlive.requestsPerSec)} | ${ratio(p.newConnections.requestsPerSec, h.newConnections.requestsPerSec)} | ${ratio(p.latency.p50Ms, h.latency.p50Ms)} | ${ratio(p.latency.p99Ms, h.latency.p99Ms)} | ${p.idle && h.idle && !Number.isNaN(perTunnelKiB(p)) ? ratio(perTunnelKiB(p), h.idle.perTunnelKiB) : '—'} |`;
    });
  const shown = (c: TargetCheck): string =>
    Number.isNaN(c.measured)
      ? 'n/a'
      : c.name.includes('vs')
        ? `${c.measured.toFixed(2)}×`
        : c.measured.toFixed(c.name.includes('KiB') ? 1 : 3);
  const mark = (c: TargetCheck): string => (Number.isNaN(c.measured) ? '?' : c.met ? '✓' : '×');
  const onImage = r.paths.isthmusImage ? checkTargets(r, r.paths.isthmusImage) : undefined;
  const targets = checkTargets(r).map((c, k) => {
    const image = onImage?.[k];
    return `| ${c.name} | ${shown(c)} | ${c.target} | ${c.prototype} | ${mark(c)} |${image ? ` ${shown(image)} ${mark(image)} |` : ''}`;
  });
  const proxies = pathsOf(r).filter((name) => name !== 'direct');
  const idle = proxies.map((name) => {
    const m = pathOf(r, name).idle;
    return m
      ? `${shortName(r, name)}: RSS ${int(m.beforeKiB)} → ${int(m.afterKiB)} KiB for ${r.settings.idleTunnels} idle tunnels`
      : `${shortName(r, name)}: not measured`;
  });
  return [
    '## Gateway',
    '',
    `Run ${r.date} by \`npm run bench:gateway\` (bench/gateway.ts). Machine: ${r.machine.nproc} × ${r.machine.cpu}, Node ${r.machine.node}.`,
    `Tools: ${Object.values(r.tools).join('; ')}.`,
    `Gateways built from \`${r.revision}\` (dist/, plain JavaScript; one process per gateway).`,
    '',
    'Everything runs on this one machine over loopback: the load generator, nginx (1 worker), and the two',
    'proxies of each pair all share the same cores, so every number includes that contention.',
    `Load average (1/5/15 min) at the start: ${r.loadavgAtStart}; at the end: ${r.machine.loadavg} (other work on the machine competes too).`,
    `CPU time stolen by the hypervisor during the run: ${r.stolenCpu} of all CPU time (other guests of this VM's host; 0 on a machine of one's own).`,
    '',
    `- keep-alive throughput: ${r.settings.keepAlive}`,
    `- new connection per request: ${r.settings.newConnections} (req/s = new connections/s)`,
    `- latency: ${r.settings.latency}`,
    `- idle tunnels: ${r.settings.idleTunnels} keep-alive connections opened through the pair (one request each, then idle); (RSS after − RSS before) ÷ ${r.settings.idleTunnels}, both processes of the pair summed`,
    ...(onImage
      ? [
          `- (b′) runs the same dist/ under Node ${r.imageNode}, the major the container image ships (Dockerfile); the targets are checked on (b), under this machine's Node, and shown for (b′) in the last column.`,
        ]
      : []),
    '',
    '| path | keep-alive req/s | new conn/s | p50 ms @1k | p99 ms @1k | achieved req/s | KiB / idle tunnel |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows,
    '',
    '| ratio | keep-alive | new conn/s | p50 | p99 | KiB / idle tunnel |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    ...ratios,
    '',
    ...closedLoopTable(r),
    ...loadCostTable(r),
    ...sweepTable(r),
    onImage
      ? `| target (Isthmus pair) | measured (Node ${r.machine.node}) | target | prototype | met | Node ${r.imageNode} (image) |`
      : '| target (Isthmus pair) | measured | target | prototype | met |',
    onImage ? '| --- | ---: | ---: | ---: | :---: | ---: |' : '| --- | ---: | ---: | ---: | :---: |',
    ...targets,
    '',
    ...idle.map((l) => `- ${l}`),
    ...proxies.flatMap((name) => {
      const inspected = pathOf(r, name).idle?.inspected;
      return inspected ? [`- ${shortName(r, name)} gateways' own metrics: ${inspected}`] : [];
    }),
    '- ⚠ marks a path with socket errors, non-2xx answers or failed requests in a run.',
    ...r.notes.map((n) => `- ${n}`),
    ...(r.analysis.trim() === '' ? [] : ['', r.analysis.trim()]),
    '',
  ].join('\n');
}

/**
 * The closed-loop table: latency with every process awake and no load-generator timer, and the CPU
 * time each proxy process spends per request, which competing jobs inflate far less than latency.
 */
function closedLoopTable(r: GatewayBenchReport): string[] {
  const measured = pathsOf(r).filter((n) => r.paths[n]?.closedLoop);
  if (measured.length === 0) return [];
  return [
    `Closed loop: ${r.settings.closedLoop ?? 'one connection, requests back to back'}.`,
    '',
    '| path | p50 ms | p90 ms | p99 ms | CPU µs per request (east + west) |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...measured.map((name) => {
      const c = pathOf(r, name).closedLoop!;
      return `| ${shortName(r, name)} | ${ms(c.p50Ms)} | ${ms(c.p90Ms)} | ${ms(c.p99Ms)} | ${perProxy(c.cpuUsPerRequest, 1)} |`;
    }),
    '',
  ];
}

/**
 * The keep-alive rounds' cost (median round): CPU per request of each proxy under load, how often
 * each went to sleep, and the cores left idle while wrk kept 64 requests in flight.
 */
function loadCostTable(r: GatewayBenchReport): string[] {
  const measured = pathsOf(r).filter((n) => r.paths[n]?.keepAlive.cost && n !== 'direct');
  if (measured.length === 0) return [];
  return [
    "Under the keep-alive load (the median round above): CPU time of each proxy process per request (/proc/<pid>/stat), its voluntary context switches (sleeps) per request, and the share of the machine's CPU left idle (/proc/stat).",
    '',
    '| path | CPU µs per request (east + west) | sleeps per request (east + west) | machine idle |',
    '| --- | ---: | ---: | ---: |',
    ...measured.map((name) => {
      const c = pathOf(r, name).keepAlive.cost!;
      const idle = c.idlePercent === undefined ? 'n/a' : `${c.idlePercent.toFixed(1)} %`;
      return `| ${shortName(r, name)} | ${perProxy(c.cpuUsPerRequest, 1)} | ${perProxy(c.sleepsPerRequest, 3)} | ${idle} |`;
    }),
    '',
  ];
}

/**
 * Keep-alive throughput by wrk concurrency: the pair carries every connection as a stream of one
 * TLS session, haproxy opens a TLS connection per client connection, so the two scale differently.
 */
function sweepTable(r: GatewayBenchReport): string[] {
  const h = r.paths.haproxy;
  const extra = Object.keys(h.keepAliveByConnections ?? {}).map(Number);
  if (extra.length === 0) return [];
  const main = r.settings.keepAliveConnections;
  const columns = [...new Set([...extra, ...(main === undefined ? [] : [main])])].sort((a, b) => a - b);
  const at = (p: PathResult, c: number): WrkResult | undefined =>
    c === main ? p.keepAlive : p.keepAliveByConnections?.[c];
  const cell = (w: WrkResult | undefined, vs: WrkResult | undefined, name: PathName): string => {
    if (!w) return '—';
    const share =
      vs && name !== 'haproxy' && name !== 'direct' ? ` (${ratio(w.requestsPerSec, vs.requestsPerSec)})` : '';
    const cost = w.cost?.idlePercent === undefined ? '' : `, ${w.cost.idlePercent.toFixed(0)} % idle`;
    return `${int(w.requestsPerSec)}${share}${cost}`;
  };
  return [
    'Keep-alive throughput by concurrency (`wrk -c<n>`, otherwise as above; in brackets the ratio to haproxy, then the share of the machine left idle):',
    '',
    `| path | ${columns.map((c) => `${c} connections`).join(' | ')} |`,
    `| --- | ${columns.map(() => '---:').join(' | ')} |`,
    ...pathsOf(r).map((name) => {
      const p = pathOf(r, name);
      return `| ${shortName(r, name)} | ${columns.map((c) => cell(at(p, c), at(h, c), name)).join(' | ')} |`;
    }),
    '',
  ];
}

function perProxy(values: number[], digits: number): string {
  return values.map((v) => v.toFixed(digits)).join(' + ') || '—';
}

/** Replaces (or appends) the `## <heading>` section of a markdown document, keeping the rest. */
export function replaceSection(doc: string, heading: string, section: string): string {
  const base = doc.trim() === '' ? '# Benchmarks\n' : doc;
  const lines = base.split('\n');
  const start = lines.findIndex((l) => l.trim() === `## ${heading}`);
  const body = section.trimEnd().split('\n');
  if (start === -1) return `${base.trimEnd()}\n\n${body.join('\n')}\n`;
  let end = lines.findIndex((l, i) => i > start && /^## /.test(l));
  if (end === -1) end = lines.length;
  const after = lines.slice(end);
  return (
    [...lines.slice(0, start), ...body, ...(after.length > 0 ? ['', ...after] : [])].join('\n').trimEnd() +
    '\n'
  );
}

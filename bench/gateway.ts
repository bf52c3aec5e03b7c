/**
 * `npm run bench:gateway`: client → backend directly, through the Isthmus gateway pair, and through
 * an haproxy mTLS pair doing the same two hops, in one run on this machine. Prints the report and
 * writes it to docs/benchmarks.md (section `## Gateway`). See bench/lib/* for each piece.
 *
 * Flags: --quick (short runs, for a smoke test), --skip-build (use dist/ as it is), --no-write
 * (print only), --profile (gateways run with --cpu-prof; profiles kept in --profile-dir),
 * --no-image-node (skip the second Isthmus pair, run under the container image's Node major, which
 * scripts/fetch-node.sh fetches from the npm registry; the targets are checked on the first pair,
 * under this machine's Node, and shown for the image's beside them).
 */
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { type BenchCerts, writeBenchCerts } from './lib/certs.js';
import { runClosedLoop } from './lib/closed-loop.js';
import { stealMeter } from './lib/cpu-steal.js';
import { runFixedRate } from './lib/h2load.js';
import { startReferencePair } from './lib/haproxy.js';
import { type IsthmusPair, REPO, startIsthmusPair } from './lib/isthmus-pair.js';
import { withLoadCost } from './lib/load-cost.js';
import { describeGateways } from './lib/metrics-text.js';
import { BACKEND_BODY, startNginx } from './lib/nginx.js';
import { installSignalCleanup, runToEnd, stopAll, waitFor } from './lib/procs.js';
import {
  type GatewayBenchReport,
  ORDER,
  type PathName,
  type PathResult,
  renderGatewaySection,
  replaceSection,
} from './lib/report.js';
import { measureIdleTunnels } from './lib/rss.js';
import { freePort, httpGet } from './lib/sockets.js';
import { ensureTools, machine, toolVersions } from './lib/tools.js';
import { medianRun, runWrk, type WrkResult } from './lib/wrk.js';

// Loopback addresses by role (DESIGN.md: clusters as 127.0.x.y), so every listener is on its own address.
const HOSTS = {
  isthmusEast: '127.0.61.1',
  haproxyEast: '127.0.61.2',
  isthmusWest: '127.0.62.1',
  isthmusImageEast: '127.0.61.3',
  isthmusImageWest: '127.0.62.3',
  haproxyWest: '127.0.62.2',
  nginx: '127.0.63.1',
} as const;

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    'skip-build': { type: 'boolean', default: false },
    'no-write': { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    'no-image-node': { type: 'boolean', default: false },
    'profile-dir': { type: 'string', default: join(REPO, 'bench', 'profiles') },
    threads: { type: 'string', default: '2' },
    connections: { type: 'string', default: '64' },
  },
});

const quick = flags.quick === true;
const SETTINGS = {
  threads: Number(flags.threads),
  connections: Number(flags.connections),
  closeConnections: 32,
  /** Keep-alive throughput again at these concurrencies: one tunnel session vs one TLS connection each. */
  sweepConnections: quick ? [] : [16, 256],
  durationSec: quick ? 3 : 5,
  /** Throughput rounds per path, alternating between paths; the median round is reported. */
  rounds: quick ? 1 : 3,
  warmupSec: quick ? 1 : 2,
  rate: 1_000,
  rateRuns: 10,
  rateDurationSec: quick ? 3 : 10,
  rateWarmupMs: 1_000,
  idleTunnels: quick ? 200 : 1_000,
  closedLoopRequests: quick ? 2_000 : 10_000,
};

let loadavgAtStart = '';
let stolen: () => string = () => 'n/a';
const log = (line: string): void => console.log(`[bench:gateway] ${line}`);

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'isthmus-bench-'));
  loadavgAtStart = machine().loadavg;
  stolen = stealMeter();
  installSignalCleanup(() => rm(dir, { recursive: true, force: true }));
  try {
    const installed = ensureTools(log);
    if (installed.length > 0) log(`installed: ${installed.join(' ')}`);
    if (!flags['skip-build']) {
      log('npm run build (gateways run from dist/)');
      await runToEnd('build', 'npm', ['run', '--silent', 'build'], 300_000);
    }
    await runBench(dir);
  } finally {
    await stopAll();
    await rm(dir, { recursive: true, force: true });
  }
}

async function runBench(dir: string): Promise<void> {
  const certs = await writeBenchCerts(dir);
  const nginxPort = await freePort(HOSTS.nginx);
  await startNginx({ host: HOSTS.nginx, port: nginxPort, dir });
  const backend = { host: HOSTS.nginx, port: nginxPort };
  const haproxy = await startReferencePair({
    dir,
    certs,
    hosts: { east: HOSTS.haproxyEast, west: HOSTS.haproxyWest },
    backend,
  });
  const profileDir = resolve(flags['profile-dir'] ?? 'bench/profiles');
  if (flags.profile) await mkdir(profileDir, { recursive: true });
  const isthmus = await startIsthmusPair({
    dir,
    certs,
    eastHost: HOSTS.isthmusEast,
    westHost: HOSTS.isthmusWest,
    backend,
    nodeArgs: flags.profile ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [],
  });

  const image = flags['no-image-node'] ? undefined : await startImageNodePair(dir, certs, backend);

  const pairTarget = (pair: IsthmusPair) => ({
    ...pair.egress,
    pids: [pair.east.child.pid!, pair.west.child.pid!],
  });
  const targets: Partial<Record<PathName, { host: string; port: number; pids: number[] }>> = {
    direct: { ...backend, pids: [] },
    isthmus: pairTarget(isthmus),
    ...(image ? { isthmusImage: pairTarget(image.pair) } : {}),
    haproxy: { ...haproxy.egress, pids: haproxy.pids },
  };
  const names = (Object.keys(targets) as PathName[]).sort((a, b) => ORDER.indexOf(a) - ORDER.indexOf(b));
  const targetOf = (name: PathName) => {
    const t = targets[name];
    if (!t) throw new Error(`no ${name} path`);
    return t;
  };
  for (const [name, t] of Object.entries(targets)) {
    // The first request through a pair also proves the whole path (mTLS, authorisation, backend).
    await waitFor(
      `a response through ${name}`,
      async () => (await httpGet(t.host, t.port)).body === BACKEND_BODY,
      20_000,
    );
    for (let i = 0; i < 20; i++) await httpGet(t.host, t.port);
    log(`${name}: ${t.host}:${t.port} answers`);
  }

  // Idle memory first, on processes that have carried almost nothing yet.
  const idle: Partial<Record<PathName, PathResult['idle']>> = {};
  const admins: Partial<Record<PathName, string[]>> = {
    isthmus: isthmus.admin,
    ...(image ? { isthmusImage: image.pair.admin } : {}),
  };
  for (const name of names.filter((n) => n !== 'direct')) {
    const admin = admins[name];
    idle[name] = await measureIdleTunnels({
      ...targetOf(name),
      count: SETTINGS.idleTunnels,
      expect: BACKEND_BODY,
      ...(admin ? { inspect: () => describeGateways(admin) } : {}),
    });
    log(`${name}: ${idle[name]?.perTunnelKiB.toFixed(1)} KiB per idle tunnel`);
  }

  // Throughput in rounds that rotate through the paths, median per path: a burst of other load (or
  // of CPU stolen by the hypervisor) then hits every path alike instead of one path's whole run.
  const urlOf = (name: PathName) => `http://${targetOf(name).host}:${targetOf(name).port}/`;
  const rounds = async (what: string, run: (name: PathName) => Promise<WrkResult>) => {
    const results = new Map<PathName, WrkResult[]>(names.map((n) => [n, []]));
    for (let round = 0; round < SETTINGS.rounds; round++) {
      for (const name of [...names.slice(round % names.length), ...names.slice(0, round % names.length)]) {
        const r = await run(name);
        results.get(name)!.push(r);
        log(`${name}: ${what} ${Math.round(r.requestsPerSec)}/s (round ${round + 1})`);
      }
    }
    return new Map([...results].map(([name, runs]) => [name, medianRun(runs)]));
  };
  for (const name of names) {
    await runWrk({
      url: urlOf(name),
      threads: SETTINGS.threads,
      connections: SETTINGS.connections,
      durationSec: SETTINGS.warmupSec,
    });
  }
  const keepAliveAt = (connections: number) =>
    rounds(`keep-alive -c${connections}`, (name) =>
      withLoadCost(targetOf(name).pids, () =>
        runWrk({
          url: urlOf(name),
          threads: SETTINGS.threads,
          connections,
          durationSec: SETTINGS.durationSec,
        }),
      ),
    );
  const keepAlive = await keepAliveAt(SETTINGS.connections);
  const sweep = new Map<number, Map<PathName, WrkResult>>();
  for (const connections of SETTINGS.sweepConnections) sweep.set(connections, await keepAliveAt(connections));
  const newConnections = await rounds('new connections', (name) =>
    runWrk({
      url: urlOf(name),
      threads: SETTINGS.threads,
      connections: SETTINGS.closeConnections,
      durationSec: SETTINGS.durationSec,
      close: true,
    }),
  );

  const paths = {} as GatewayBenchReport['paths'];
  for (const name of names) {
    const latency = await runFixedRate({
      url: urlOf(name),
      dir,
      rate: SETTINGS.rate,
      runs: SETTINGS.rateRuns,
      durationSec: SETTINGS.rateDurationSec,
      warmupMs: SETTINGS.rateWarmupMs,
    });
    log(
      `${name}: p50 ${latency.p50Ms.toFixed(3)} ms, p99 ${latency.p99Ms.toFixed(3)} ms at ${Math.round(latency.rate)} req/s`,
    );
    const closedLoop = await runClosedLoop({
      ...targetOf(name),
      bodyBytes: Buffer.byteLength(BACKEND_BODY),
      requests: SETTINGS.closedLoopRequests,
    });
    log(
      `${name}: closed loop p50 ${closedLoop.p50Ms.toFixed(3)} ms, p99 ${closedLoop.p99Ms.toFixed(3)} ms, CPU µs/request ${closedLoop.cpuUsPerRequest.map((us) => us.toFixed(1)).join(' + ') || '-'}`,
    );
    const pathIdle = idle[name];
    paths[name] = {
      keepAlive: keepAlive.get(name)!,
      ...(sweep.size > 0
        ? {
            keepAliveByConnections: Object.fromEntries(
              [...sweep].map(([c, byPath]) => [c, byPath.get(name)!]),
            ),
          }
        : {}),
      newConnections: newConnections.get(name)!,
      latency,
      closedLoop,
      ...(pathIdle ? { idle: pathIdle } : {}),
    };
  }

  await isthmus.stop();
  await image?.pair.stop();
  const report: GatewayBenchReport = {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    machine: machine(),
    loadavgAtStart,
    stolenCpu: stolen(),
    revision: revision(),
    tools: toolVersions(),
    settings: {
      keepAlive: `\`wrk -t${SETTINGS.threads} -c${SETTINGS.connections} -d${SETTINGS.durationSec}s\` after a ${SETTINGS.warmupSec} s warm-up; the median of ${SETTINGS.rounds} rounds that rotate through the paths`,
      newConnections: `\`wrk -t${SETTINGS.threads} -c${SETTINGS.closeConnections} -d${SETTINGS.durationSec}s -H 'Connection: close'\`, the median of ${SETTINGS.rounds} rounds likewise`,
      latency: `${SETTINGS.rateRuns} staggered \`h2load --h1 -c 1 --rps ${SETTINGS.rate / SETTINGS.rateRuns}\` runs (${SETTINGS.rate} req/s in all) for ${SETTINGS.rateDurationSec} s; exact percentiles over the merged per-request \`--log-file\`s, first ${SETTINGS.rateWarmupMs} ms dropped`,
      idleTunnels: SETTINGS.idleTunnels,
      keepAliveConnections: SETTINGS.connections,
      closedLoop: `${SETTINGS.closedLoopRequests.toLocaleString('en-US')} requests one after another over one keep-alive connection (bench/lib/closed-loop.ts), after 200 unmeasured; CPU time of each proxy process over them (all threads) from /proc/<pid>/task/<tid>/schedstat`,
    },
    paths,
    ...(image ? { imageNode: image.version } : {}),
    notes: quick ? ['**--quick run**: short durations, fewer idle tunnels; not for comparison.'] : [],
    analysis: await readFile(join(REPO, 'bench', 'gateway-analysis.md'), 'utf8').catch(() => ''),
  };
  const section = renderGatewaySection(report);
  console.log(`\n${section}`);
  if (!flags['no-write']) {
    const file = join(REPO, 'docs', 'benchmarks.md');
    const existing = await readFile(file, 'utf8').catch(() => '');
    await writeFile(file, replaceSection(existing, 'Gateway', section));
    log(`written to ${file}`);
  }
}

/** The Node major of the container image (Dockerfile: `FROM node:24-…`), pinned by scripts/fetch-node.sh. */
const IMAGE_NODE_MAJOR = '24';

/** A second Isthmus pair, the same dist/, run by the container image's Node: what users deploy. */
async function startImageNodePair(
  dir: string,
  certs: BenchCerts,
  backend: { host: string; port: number },
): Promise<{ pair: IsthmusPair; version: string }> {
  const fetched = spawnSync('bash', [join(REPO, 'scripts', 'fetch-node.sh'), IMAGE_NODE_MAJOR], {
    encoding: 'utf8',
    timeout: 300_000,
  });
  const node = fetched.stdout?.trim();
  if (fetched.status !== 0 || !node) {
    throw new Error(
      `scripts/fetch-node.sh ${IMAGE_NODE_MAJOR} failed (--no-image-node skips this pair): ${fetched.stderr}`,
    );
  }
  const version = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim();
  log(`image's Node: ${version} (${node})`);
  const pair = await startIsthmusPair({
    dir,
    certs,
    eastHost: HOSTS.isthmusImageEast,
    westHost: HOSTS.isthmusImageWest,
    backend,
    node,
  });
  return { pair, version };
}

/** The commit the gateways were built from, `-dirty` when src/ differs from it. */
function revision(): string {
  const git = (...args: string[]): string =>
    spawnSync('git', args, { cwd: REPO, encoding: 'utf8', timeout: 5_000 }).stdout?.trim() ?? '';
  const head = git('rev-parse', '--short', 'HEAD') || 'unknown';
  return git('status', '--porcelain', '--', 'src') === '' ? head : `${head}-dirty`;
}

main().catch((err: unknown) => {
  console.error(`[bench:gateway] failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  // main's finally stopped the child processes; a pair that failed after it started still holds its
  // in-process API servers open, and a bench that hangs after failing looks like one still running.
  process.exit(1);
});

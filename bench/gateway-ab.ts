/**
 * `node --import tsx bench/gateway-ab.ts --variant A=<dist dir>[@<node binary>] --variant B=… [--batches 15]
 * [--requests 3000] [--node-arg=<flag>…]`:
 * A/B of gateway builds on the figure that other load moves least, the closed loop's CPU time per
 * request of each gateway (bench/lib/closed-loop.ts). Each variant is a snapshot of `dist/` (e.g.
 * `cp -r dist dist/.ab/A` after a build; inside dist/ so node_modules still resolve). Every
 * variant's gateway pair runs at once and short batches alternate between them, so a burst of other
 * load on the shared machine lands on all variants alike; medians over the batches are printed.
 * `@<node binary>` runs that variant's gateways under another Node (e.g. the image's Node 24).
 * `--measure new-connections` compares the CPU per new client connection instead (wrk with
 * `Connection: close` for `--seconds` per batch; CPU from /proc/<pid>/stat), and `--measure
 * keep-alive` the CPU per request under the throughput test's load (wrk -c64 keep-alive), where
 * the gateways batch many streams per TLS record and per event-loop turn.
 * `--haproxy` adds bench:gateway's haproxy mTLS pair as a reference, measured in the same rotation.
 * Run it under `flock /tmp/isthmus-bench.lock` like every bench.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { writeBenchCerts } from './lib/certs.js';
import { runClosedLoop } from './lib/closed-loop.js';
import { startReferencePair } from './lib/haproxy.js';
import { type IsthmusPair, startIsthmusPair } from './lib/isthmus-pair.js';
import { withLoadCost } from './lib/load-cost.js';
import { BACKEND_BODY, startNginx } from './lib/nginx.js';
import { installSignalCleanup, stopAll, waitFor } from './lib/procs.js';
import { freePort, httpGet } from './lib/sockets.js';
import { runWrk } from './lib/wrk.js';

const { values: flags } = parseArgs({
  options: {
    variant: { type: 'string', multiple: true, default: [] },
    batches: { type: 'string', default: '15' },
    requests: { type: 'string', default: '3000' },
    measure: { type: 'string', default: 'closed-loop' },
    seconds: { type: 'string', default: '5' },
    /** wrk connections (default: 64 keep-alive, 32 new connections, as bench:gateway). */
    connections: { type: 'string' },
    /** Also measure the haproxy mTLS pair of bench:gateway, as a reference (never the baseline). */
    haproxy: { type: 'boolean', default: false },
    /** Extra node flag for every gateway (repeatable), e.g. --node-arg=--cpu-prof. */
    'node-arg': { type: 'string', multiple: true, default: [] },
  },
});

const variants = (flags.variant ?? []).map((v) => {
  const [name, target] = v.split('=');
  const [dir, node] = (target ?? '').split('@');
  if (!name || !dir) throw new Error(`--variant ${v}: expected name=<dist dir>[@<node binary>]`);
  return { name, main: join(resolve(dir), 'gateway', 'main.js'), node: node || undefined };
});

interface Sample {
  /** CPU µs per request (closed loop) or per connection (new connections), each gateway. */
  east: number;
  west: number;
  /** Closed loop: p50 latency in ms; new connections: connections per second; keep-alive: req/s. */
  figure: number;
  /** wrk modes: share of the machine's CPU left idle during the batch, in percent. */
  idle?: number;
  /** wrk modes: voluntary context switches (sleeps) per request, each proxy. */
  sleeps?: [number, number];
}

const MEASURES = ['closed-loop', 'new-connections', 'keep-alive'];
if (!MEASURES.includes(flags.measure ?? ''))
  throw new Error(`--measure ${flags.measure}: expected one of ${MEASURES.join(', ')}`);
const perConnection = flags.measure === 'new-connections';
const underLoad = flags.measure === 'keep-alive';

const HOSTS = {
  east: '127.0.61.1',
  west: '127.0.62.1',
  nginx: '127.0.63.1',
  haproxyEast: '127.0.61.2',
  haproxyWest: '127.0.62.2',
};

/** What a batch measures: a client port and the two proxy processes behind it. */
interface Target {
  egress: { host: string; port: number };
  pids: number[];
}

const targetOf = (pair: IsthmusPair): Target => ({
  egress: pair.egress,
  pids: [pair.east.child.pid!, pair.west.child.pid!],
});

async function main(): Promise<void> {
  if (variants.length === 0) throw new Error('give at least one --variant name=<dist dir>');
  const dir = await mkdtemp(join(tmpdir(), 'isthmus-ab-'));
  installSignalCleanup(() => rm(dir, { recursive: true, force: true }));
  const pairs: IsthmusPair[] = [];
  const targets: Target[] = [];
  const names = variants.map((v) => v.name);
  try {
    const certs = await writeBenchCerts(dir);
    const backend = { host: HOSTS.nginx, port: await freePort(HOSTS.nginx) };
    await startNginx({ ...backend, dir });
    for (const v of variants) {
      const pair = await startIsthmusPair({
        dir,
        certs,
        eastHost: HOSTS.east,
        westHost: HOSTS.west,
        backend,
        main: v.main,
        node: v.node,
        nodeArgs: flags['node-arg'] ?? [],
      });
      pairs.push(pair);
      targets.push(targetOf(pair));
      await warm(targets.at(-1)!);
      console.log(`[ab] ${v.name}: pair up and warm`);
    }
    if (flags.haproxy) {
      targets.push(
        await startReferencePair({
          dir,
          certs,
          hosts: { east: HOSTS.haproxyEast, west: HOSTS.haproxyWest },
          backend,
        }),
      );
      names.push('haproxy');
      await warm(targets.at(-1)!);
      console.log('[ab] haproxy: pair up and warm');
    }
    const samples = targets.map(() => [] as Sample[]);
    for (let batch = 0; batch < Number(flags.batches); batch++) {
      // Rotate the order so no variant always runs first after a pause.
      for (let k = 0; k < targets.length; k++) {
        const i = (batch + k) % targets.length;
        samples[i]!.push(await measure(targets[i]!));
      }
    }
    const first = samples[0]!;
    names.forEach((name, i) => {
      const list = samples[i]!;
      // Paired with the first variant's batch of the same round: drift in other load cancels out.
      const diff = (f: (s: Sample) => number): string => {
        const d = median(list.map((s, b) => f(s) - f(first[b]!)));
        return `${d >= 0 ? '+' : ''}${d.toFixed(1)}`;
      };
      const med = (f: (s: Sample) => number): number => median(list.map(f));
      const batch = perConnection
        ? `${flags.seconds} s of new connections`
        : underLoad
          ? `${flags.seconds} s of keep-alive load`
          : `${flags.requests} requests`;
      const figure = perConnection
        ? `${med((s) => s.figure).toFixed(0)} connections/s`
        : underLoad
          ? `${med((s) => s.figure).toFixed(0)} req/s`
          : `p50 ${med((s) => s.figure).toFixed(3)} ms`;
      const idle =
        perConnection || underLoad
          ? `, machine idle ${med((s) => s.idle ?? 0).toFixed(1)} %, sleeps per request east ${med((s) => s.sleeps?.[0] ?? 0).toFixed(2)} / west ${med((s) => s.sleeps?.[1] ?? 0).toFixed(2)}`
          : '';
      console.log(
        `[ab] ${name} median of ${list.length} batches of ${batch}: east ${med((s) => s.east).toFixed(1)} µs, west ${med((s) => s.west).toFixed(1)} µs, ${figure}${idle}` +
          ` (east ${range(list.map((s) => s.east))}, west ${range(list.map((s) => s.west))})` +
          (i === 0
            ? ''
            : `; paired vs ${names[0]}: east ${diff((s) => s.east)}, west ${diff((s) => s.west)} µs`),
      );
    });
  } finally {
    // Each pair's sandboxes and clients too: they would keep this process alive.
    for (const pair of pairs) await pair.stop();
    await stopAll();
    await rm(dir, { recursive: true, force: true });
  }
}

/** The pair answers, and its JIT has seen the path (runClosedLoop warms its own tunnel too). */
async function warm(target: Target): Promise<void> {
  const { egress } = target;
  await waitFor(
    'a response through the pair',
    async () => (await httpGet(egress.host, egress.port)).body === BACKEND_BODY,
    20_000,
  );
  for (let i = 0; i < 20; i++) await httpGet(egress.host, egress.port);
  await measure(target, 5_000);
}

async function measure(target: Target, requests = Number(flags.requests)): Promise<Sample> {
  if (perConnection || underLoad) return measureWrk(target, perConnection);
  const r = await runClosedLoop({
    ...target.egress,
    bodyBytes: Buffer.byteLength(BACKEND_BODY),
    requests,
    pids: target.pids,
  });
  return { east: r.cpuUsPerRequest[0]!, west: r.cpuUsPerRequest[1]!, figure: r.p50Ms };
}

/** wrk as in bench:gateway's throughput rounds: -c32 with `Connection: close`, or -c64 keep-alive. */
async function measureWrk({ egress, pids }: Target, close: boolean): Promise<Sample> {
  const r = await withLoadCost(pids, () =>
    runWrk({
      url: `http://${egress.host}:${egress.port}/`,
      threads: 2,
      connections: Number(flags.connections ?? (close ? 32 : 64)),
      durationSec: Number(flags.seconds),
      close,
    }),
  );
  if (r.socketErrors > 0 || r.non2xx > 0)
    throw new Error(`wrk: ${r.socketErrors} socket errors, ${r.non2xx} non-2xx`);
  const [east, west] = r.cost.cpuUsPerRequest;
  const [se, sw] = r.cost.sleepsPerRequest;
  return { east: east!, west: west!, figure: r.requestsPerSec, idle: r.cost.idlePercent, sleeps: [se!, sw!] };
}

function range(xs: number[]): string {
  return `${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)}`;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

main().catch((err: unknown) => {
  console.error(`[ab] failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exitCode = 1;
});

/**
 * `npm run bench:failover`: the failover requirement "primary endpoints go not ready → callers of
 * the apex reach a remote cluster within 1 s", timed over rounds. The world is the failover e2e
 * world (src/failover/e2e/world.ts: three sandbox clusters, real gateways and mTLS tunnels, the real
 * mirror and failover controllers, the kube-proxy stand-in in front of the apex), set up as
 * src/failover/e2e/data-path.test.ts sets it up, which asserts the behaviour; this measures the
 * time. Everything runs in this one process, as in the test, on loopback addresses of its own
 * (127.0.171–173.x), so it does not collide with a test run.
 *
 * Each round starts with every connection through the apex on the primary (east) and the
 * controllers' client at rest (below, `--rest-ms`), then:
 *   failover: the primary's EndpointSlice is patched not ready → the first request through the
 *             apex answered by west or north (a new connection every 5 ms);
 *   back:     once the apex lists only the backups (and the client is at rest again), the slice
 *             is patched ready again → the apex lists only the primary and a request through it
 *             is answered by east.
 * Prints a table and a PASS/FAIL line against the 1 s goal, and rewrites the `## Failover`
 * section of docs/benchmarks.md. A missed goal is reported, not an exit status (like
 * bench/mirror.ts: only an error fails the process). Options:
 *   --rounds N       failover + back rounds (default 10)
 *   --rest-ms N      quiet time of the controllers' client before each transition (default: the
 *                    time its rate limiter takes to refill, 2 s; 0 = back to back, throttled)
 *   --no-docs        print only
 */
import { readFile, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import Table from 'cli-table3';
import { NS, primarySlice, startWorld, type World } from '../src/failover/e2e/world.js';
import { trafficSplit } from '../src/failover/test-builders.js';
import { httpGet } from '../src/gateway/e2e/fixtures.js';
import { KubeClient } from '../src/kube/client.js';
import { DEFAULT_RATE_LIMIT } from '../src/kube/rate-limiter.js';
import { R } from '../src/kube/resources.js';
import type { TrafficSplit } from '../src/kube/types.js';
import { waitFor } from '../src/wait-for.js';
import { stealMeter } from './lib/cpu-steal.js';
import {
  type FailoverBenchResult,
  failoverRows,
  ROW_HEAD,
  renderFailoverSection,
  rowCells,
  verdict,
} from './lib/failover-report.js';
import { installSignalCleanup } from './lib/procs.js';
import { replaceSection } from './lib/report.js';
import { machine } from './lib/tools.js';

/**
 * How long the controllers' client must have sent nothing before a transition: the time its
 * rate limiter takes to refill from empty (burst ÷ qps: 2 s at 50 qps, burst 100). Each failover
 * and its return cost the controllers about 20 requests, so back-to-back rounds would each pay
 * for the previous one's writes (a limiter in debt) and measure the bench's pace, not a failover.
 */
const REFILL_MS = Math.ceil((1_000 * DEFAULT_RATE_LIMIT.burst) / DEFAULT_RATE_LIMIT.qps);

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '10' },
    'rest-ms': { type: 'string', default: String(REFILL_MS) },
    'no-docs': { type: 'boolean', default: false },
  },
});
const rounds = Number(values.rounds);
const restMs = Number(values['rest-ms']);
if (!Number.isFinite(restMs) || restMs < 0)
  throw new Error(`--rest-ms must be a number ≥ 0, not ${values['rest-ms']}`);
if (!Number.isInteger(rounds) || rounds < 1)
  throw new Error(`--rounds must be a whole number ≥ 1, not ${values.rounds}`);

const REPO = join(import.meta.dirname, '..');
const HOSTS = { east: '127.0.171.1', west: '127.0.172.1', north: '127.0.173.1', proxy: '127.0.171.10' };
const REMOTES = ['west', 'north'];
/** Deadline of one measured wait: ten times the goal; a miss that long is a failure, not a number. */
const MEASURE_DEADLINE_MS = 10_000;
/** Deadline for the world to settle between rounds (controllers, informers, probes). */
const SETTLE_DEADLINE_MS = 15_000;
/** Pause between checks while settling between rounds (each reads the split from the API). */
const SETTLE_POLL_MS = 50;
/** Pause between requests while timing: a new connection every 5 ms, as the test polls. */
const POLL_MS = 5;

const log = (msg: string) =>
  process.stdout.write(`[bench:failover ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

let world: World | undefined;
installSignalCleanup(async () => {
  await world?.close();
});

/** Who answered one request through the apex (a new connection), or `error`. */
async function servedBy(w: World): Promise<string> {
  try {
    const res = await httpGet(w.apex.host, w.apex.port, '/', 5_000);
    return res.status === 200 ? res.body.replace('hello from ', '') : `status ${res.status}`;
  } catch {
    return 'error';
  }
}

async function setPrimaryReady(kube: KubeClient, ready: boolean): Promise<void> {
  const name = primarySlice(0, ready).metadata!.name!;
  await kube.patch(R.endpointSlices, NS, name, {
    endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready } }],
  });
}

/**
 * Waits until `client` has sent no request for `restMs` (its rate limiter full again, nothing left
 * in flight from the last transition).
 */
async function rested(client: KubeClient, what: string): Promise<void> {
  let seen = client.stats().requests;
  let since = performance.now();
  await waitFor(
    what,
    () => {
      const requests = client.stats().requests;
      if (requests !== seen) {
        seen = requests;
        since = performance.now();
      }
      return performance.now() - since >= restMs;
    },
    { timeoutMs: restMs + SETTLE_DEADLINE_MS, intervalMs: SETTLE_POLL_MS },
  );
}

const splitState = async (kube: KubeClient) =>
  (await kube.get<TrafficSplit>(R.trafficSplitsV1alpha2, NS, 'podinfo'))?.status?.state;

async function main(): Promise<void> {
  log(`starting the failover e2e world (three sandbox clusters, gateways, controllers) on ${HOSTS.east} …`);
  const started = performance.now();
  const w = await startWorld(HOSTS);
  world = w;
  // The bench's own client, as the EndpointSlice controller and an observer are in a cluster: its
  // patches and polling must not spend the rate limit of the controllers' client (50 qps, burst 100).
  const kube = KubeClient.fromKubeconfigString(w.east.sandbox.kubeconfig());
  const failoverMs: number[] = [];
  const backMs: number[] = [];
  let stolen = 'n/a';
  let load = 'n/a';
  let rateLimitWaitMs = 0;
  let requestsPerRound = 0;
  try {
    await w.east.kube.create(
      R.trafficSplitsV1alpha2,
      trafficSplit(NS, 'podinfo', 'podinfo', [
        { service: 'podinfo', weight: 1 },
        { service: 'podinfo-west', weight: 0 },
        { service: 'podinfo-north', weight: 0 },
      ]),
    );
    log(`world up in ${((performance.now() - started) / 1_000).toFixed(1)} s; ${rounds} rounds`);
    const primary = `127.0.0.1:${w.east.backend.port}`;
    const steal = stealMeter();
    const before = w.east.kube.stats();
    const onlyPrimary = () => {
      const eps = w.apex.endpoints();
      return eps.length === 1 && eps[0] === primary;
    };

    for (let round = 1; round <= rounds; round++) {
      // Every round starts from the same place: the split on its primary, the apex listing only it.
      await waitFor(
        `round ${round}: split Primary, the apex on the primary alone`,
        async () => onlyPrimary() && (await splitState(kube)) === 'Primary' && (await servedBy(w)) === 'east',
        { timeoutMs: SETTLE_DEADLINE_MS, intervalMs: SETTLE_POLL_MS },
      );
      await rested(w.east.kube, `round ${round}: the controllers' client at rest before failover`);

      const t0 = performance.now();
      await setPrimaryReady(kube, false);
      await waitFor(
        `round ${round}: a remote answer through the apex`,
        async () => REMOTES.includes(await servedBy(w)),
        { timeoutMs: MEASURE_DEADLINE_MS, intervalMs: POLL_MS },
      );
      const out = performance.now() - t0;
      failoverMs.push(out);

      // Back is timed from a settled failover: the split in Fallback, the apex listing both backups only.
      await waitFor(
        `round ${round}: split Fallback, the apex on both backups alone`,
        async () =>
          w.apex.endpoints().length === REMOTES.length &&
          !w.apex.endpoints().includes(primary) &&
          (await splitState(kube)) === 'Fallback',
        { timeoutMs: SETTLE_DEADLINE_MS, intervalMs: SETTLE_POLL_MS },
      );
      await rested(w.east.kube, `round ${round}: the controllers' client at rest before the primary returns`);
      const t1 = performance.now();
      await setPrimaryReady(kube, true);
      await waitFor(
        `round ${round}: every connection through the apex on the primary again`,
        async () => onlyPrimary() && (await servedBy(w)) === 'east',
        { timeoutMs: MEASURE_DEADLINE_MS, intervalMs: POLL_MS },
      );
      const back = performance.now() - t1;
      backMs.push(back);
      log(`round ${round}/${rounds}: failover ${out.toFixed(0)} ms, back ${back.toFixed(0)} ms`);
    }
    stolen = steal();
    load = loadavg()[0]!.toFixed(1);
    const after = w.east.kube.stats();
    rateLimitWaitMs = after.rateLimitWaitMs - before.rateLimitWaitMs;
    requestsPerRound = (after.requests - before.requests) / rounds;
  } finally {
    world = undefined;
    kube.close();
    await w.close();
  }

  const m = machine();
  const result: FailoverBenchResult = {
    date: new Date().toISOString(),
    machine: `${m.nproc} × ${m.cpu.trim()}, Node ${m.node}`,
    failoverMs,
    backMs,
    load,
    stolen,
    rateLimitWaitMs,
    requestsPerRound,
    restMs,
  };
  const table = new Table({ head: [...ROW_HEAD] });
  for (const row of failoverRows(result)) table.push(rowCells(row));
  process.stdout.write(
    `${table.toString()}\n${verdict(result)}\n` +
      `controllers' client: ${requestsPerRound.toFixed(1)} requests per round, ${rateLimitWaitMs.toFixed(0)} ms waited on its rate limiter in all; load average ${load}, CPU stolen ${stolen}\n`,
  );

  if (!values['no-docs']) {
    const file = join(REPO, 'docs', 'benchmarks.md');
    const existing = await readFile(file, 'utf8').catch(() => '');
    await writeFile(file, replaceSection(existing, 'Failover', renderFailoverSection(result)));
    log('wrote the Failover section of docs/benchmarks.md');
  }
}

try {
  await main();
} catch (err) {
  process.stderr.write(
    `bench:failover failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exitCode = 1;
}

/**
 * One controller run of the mirror benchmark, for one client-side rate limit: initial sync of
 * 2 × N remote Services into a fresh local cluster, a restart with everything in sync, single
 * exports while the rest is steady, and the controller's memory throughout.
 */
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import type { KubeClient } from '../../src/kube/client.js';
import { SYSTEM_NAMESPACE } from '../../src/kube/keys.js';
import { R } from '../../src/kube/resources.js';
import { stealMeter } from '../lib/cpu-steal.js';
import {
  adminClient,
  credentialsSecret,
  ensureNamespaces,
  exportedService,
  linkObject,
  NAMESPACES,
  remoteSlice,
  serviceRef,
} from './fixtures.js';
import { cpuSecondsOf, memoryOf, metricSum, percentile, scrape, total, writesByResource } from './observe.js';
import { freePort } from './probe-stub.js';
import {
  type Children,
  type ControllerProcess,
  profiledWindow,
  type SandboxProcess,
  startControllerProcess,
  startSandboxProcess,
} from './processes.js';
import { ReadyTracker } from './tracker.js';
import { waitQuiet, waitUntil } from './wait.js';

export interface ScenarioOptions {
  label: string;
  /** undefined: the controller's default rate limit; 0: off. */
  qps?: number;
  perCluster: number;
  exports: number;
  remotes: SandboxProcess[];
  /** Remote admin clients, index-aligned with `remotes`. */
  remoteClients: KubeClient[];
  probeUrl: string;
  workDir: string;
  syncTimeoutMs: number;
  cpuProf: boolean;
}

export interface ScenarioResult {
  label: string;
  qps: string;
  syncSeconds: number;
  /** Until the API server saw no more writes (trailing status writes included). */
  syncSettledSeconds: number;
  syncWrites: number;
  /** Service keys the controller reconciled (isthmus_mirror_syncs_total) up to the end of the sync. */
  syncs: number;
  syncWritesByResource: Record<string, number>;
  serverWritesDuringSync: number;
  restartWrites: number;
  restartWritesByResource: Record<string, number>;
  restartReadySeconds: number;
  exportMs: number[];
  /** Local API requests (reads included) per single export, by `verb resource`. */
  exportRequests: Record<string, number>;
  peakRssMb: number;
  /** Peak RSS of the controller that did the initial sync, and of the restarted one. */
  syncPeakRssMb: number;
  restartPeakRssMb: number;
  steadyRssMb: number;
  /** V8 heap in use at steady state (prom-client's nodejs_heap_size_used_bytes), MB. */
  steadyHeapMb: number;
  /** 1-minute load average when the sync finished. */
  load: string;
  /** Share of all CPU time stolen by the hypervisor during the initial sync. */
  stolen: string;
  /** CPU seconds during the initial sync (to every mirror ready): local API server, controller. */
  serverCpuSeconds: number;
  controllerCpuSeconds: number;
}

export async function runScenario(children: Children, o: ScenarioOptions): Promise<ScenarioResult> {
  const local = await startSandboxProcess(children, 'east');
  const client = adminClient(local);
  const tracker = new ReadyTracker(client);
  const kubeconfigFile = join(o.workDir, `east-${o.label}.kubeconfig`);
  writeFileSync(kubeconfigFile, local.kubeconfig, { mode: 0o600 });
  const serverHost = new URL(local.url).host;
  const adminPort = await freePort();
  const start = (phase: string) =>
    startControllerProcess(children, {
      kubeconfigFile,
      context: 'east',
      cluster: 'east',
      gatewayAdmin: o.probeUrl,
      adminPort,
      ...(o.qps === undefined ? {} : { qps: o.qps }),
      logFile: join(o.workDir, `controller-${o.label}-${phase}.log`),
      ...(o.cpuProf ? { cpuProfDir: join(o.workDir, `cpu-${o.label}-${phase}`) } : {}),
    });
  let ctl: ControllerProcess | undefined;
  try {
    await ensureNamespaces(client, [SYSTEM_NAMESPACE, ...NAMESPACES]);
    await tracker.start();
    ctl = await start('sync');
    const expected = o.remotes.length * o.perCluster;

    // --- initial sync: from Link creation to every mirror ready, as the local watch sees it.
    for (const remote of o.remotes) await credentialsSecret(client, remote);
    const serverBefore = (await local.stats()).writes;
    const countsBefore = await ctl.requestCounts();
    const serverPid = local.child.pid ?? 0;
    const cpu0 = { server: cpuSecondsOf(serverPid), controller: cpuSecondsOf(ctl.pid) };
    const t0 = performance.now();
    const stolen = stealMeter();
    await profiledWindow(local, `sync-${o.label}`, async () => {
      for (const remote of o.remotes) {
        const secret = `cluster-credentials-${remote.name}`;
        await client.create(R.links, linkObject(remote.name, secret));
      }
      await tracker.waitForCount(expected, o.syncTimeoutMs);
    });
    const syncSeconds = (performance.now() - t0) / 1000;
    const load = loadavg()[0]!.toFixed(1);
    const stolenDuringSync = stolen();
    const serverCpuSeconds = cpuSecondsOf(serverPid) - cpu0.server;
    const controllerCpuSeconds = cpuSecondsOf(ctl.pid) - cpu0.controller;
    const settleMs = await waitQuiet(async () => (await local.stats()).writes, {
      quietMs: 3000,
      timeoutMs: 120_000,
      what: 'local writes to stop after the initial sync',
    });
    const syncSettledSeconds = syncSeconds + settleMs / 1000 - 3;
    const syncWritesByResource = writesByResource(countsBefore, await ctl.requestCounts(), serverHost);
    const serverWritesDuringSync = (await local.stats()).writes - serverBefore - o.remotes.length;
    const mirrors = await client.list(R.services, {
      labelSelector: 'mirror.linkerd.io/mirrored-service=true',
    });
    if (mirrors.items.length !== expected)
      throw new Error(`expected ${expected} mirror Services, found ${mirrors.items.length}`);
    const firstPeak = memoryOf(ctl.pid).peakMb;
    const syncs = metricSum(await scrape(ctl.adminUrl), 'isthmus_mirror_syncs_total');

    // --- restart with everything in sync: ready, every Link synced again, then quiet.
    await children.stop(ctl.child);
    const restartBefore = (await local.stats()).writes;
    const r0 = performance.now();
    ctl = await start('restart');
    const restarted = ctl;
    await waitUntil(
      async () => {
        const text = await scrape(restarted.adminUrl);
        return o.remotes.every(
          (r) =>
            metricSum(text, 'isthmus_mirrored_services', { target_cluster_name: r.name }) === o.perCluster,
        );
      },
      { timeoutMs: 300_000, intervalMs: 200, what: 'the restarted controller to report every mirror' },
    );
    const restartReadySeconds = (performance.now() - r0) / 1000;
    await waitQuiet(async () => (await local.stats()).requests, {
      quietMs: 5000,
      timeoutMs: 120_000,
      what: 'local requests to stop after the restart',
    });
    const restartWrites = (await local.stats()).writes - restartBefore;
    const restartWritesByResource = writesByResource({}, await ctl.requestCounts(), serverHost);
    if (tracker.readyCount !== expected)
      throw new Error(`after the restart ${tracker.readyCount}/${expected} mirrors are ready`);

    // --- single exports, one at a time, while the rest is steady.
    const exportMs: number[] = [];
    const exportCounts0 = await ctl.requestCounts();
    for (let i = 0; i < o.exports; i++) {
      const k = i % o.remotes.length;
      const remote = o.remoteClients[k]!;
      const { namespace, name } = serviceRef(i, `lat-${o.label}`);
      await remote.create(R.endpointSlices, remoteSlice(namespace, name, 60_000 + i));
      const ready = tracker.waitForReady(namespace, `${name}-${o.remotes[k]!.name}`, 30_000);
      const e0 = performance.now();
      await remote.create(R.services, exportedService(namespace, name));
      await ready;
      exportMs.push(performance.now() - e0);
    }
    const exportRequests = requestsPer(exportCounts0, await ctl.requestCounts(), serverHost, o.exports);
    const { rssMb: steadyRssMb, peakMb } = memoryOf(ctl.pid);
    const steadyHeapMb = metricSum(await scrape(ctl.adminUrl), 'nodejs_heap_size_used_bytes') / 2 ** 20;

    // The next run starts from the same N per remote.
    for (let i = 0; i < o.exports; i++) {
      const remote = o.remoteClients[i % o.remotes.length]!;
      const { namespace, name } = serviceRef(i, `lat-${o.label}`);
      await remote.delete(R.services, namespace, name);
      await remote.delete(R.endpointSlices, namespace, `${name}-x7k2p`);
    }
    return {
      label: o.label,
      qps: o.qps === undefined ? 'default (50/100)' : o.qps <= 0 ? 'off' : String(o.qps),
      syncSeconds,
      syncSettledSeconds,
      syncWrites: total(syncWritesByResource),
      syncWritesByResource,
      syncs,
      serverWritesDuringSync,
      restartWrites,
      restartWritesByResource,
      restartReadySeconds,
      exportMs,
      exportRequests,
      peakRssMb: Math.max(firstPeak, peakMb),
      syncPeakRssMb: firstPeak,
      restartPeakRssMb: peakMb,
      steadyRssMb,
      steadyHeapMb,
      load,
      stolen: stolenDuringSync,
      serverCpuSeconds,
      controllerCpuSeconds,
    };
  } finally {
    await tracker.stop();
    client.close();
    if (ctl) await children.stop(ctl.child);
    await children.stop(local.child);
  }
}

/** Requests to `server` between two counter snapshots, by `verb resource`, divided by `per`. */
function requestsPer(
  before: Record<string, number>,
  after: Record<string, number>,
  server: string,
  per: number,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, n] of Object.entries(after)) {
    const [host, ...rest] = key.split(' ');
    const delta = n - (before[key] ?? 0);
    if (host === server && delta > 0) out[rest.join(' ')] = Math.round((100 * delta) / per) / 100;
  }
  return out;
}

export function exportPercentiles(ms: readonly number[]): { p50: number; p99: number; max: number } {
  return { p50: percentile(ms, 50), p99: percentile(ms, 99), max: Math.max(...ms) };
}

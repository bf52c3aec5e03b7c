/**
 * The floor: what the API server itself costs. A bare script performs the controller's creates —
 * for each of the 2 × N remote Services, its mirror Service and then that Service's EndpointSlice
 * (the slice carries the Service's uid as owner, so the two are sequential) — at concurrency 32,
 * against a fresh sandbox of the same kind as the local cluster of the controller run, with the
 * same watch open, and stops on the same condition (every mirror slice seen ready).
 */
import { loadavg } from 'node:os';
import { R } from '../../src/kube/resources.js';
import type { V1Service } from '../../src/kube/types.js';
import { stealMeter } from '../lib/cpu-steal.js';
import { adminClient, ensureNamespaces, floorObjects, NAMESPACES } from './fixtures.js';
import { cpuSecondsOf } from './observe.js';
import { runPool } from './pool.js';
import { type Children, profiledWindow, startSandboxProcess } from './processes.js';
import { ReadyTracker } from './tracker.js';

export const FLOOR_CONCURRENCY = 32;

export interface FloorResult {
  creates: number;
  seconds: number;
  writesPerSecond: number;
  /** Writes the API server counted (should equal `creates`). */
  serverWrites: number;
  /** 1-minute load average at the end: this machine is shared with other benches and test runs. */
  load: string;
  /** Share of all CPU time stolen by the hypervisor during the creates (bench/lib/cpu-steal.ts). */
  stolen: string;
  /** CPU seconds the API server process spent on it (independent of the machine's other load). */
  serverCpuSeconds: number;
  /** CPU seconds of the bare client: this process (the creates and the ready watch). */
  clientCpuSeconds: number;
}

export async function runFloor(
  children: Children,
  clusters: readonly string[],
  perCluster: number,
  timeoutMs: number,
): Promise<FloorResult> {
  const sandbox = await startSandboxProcess(children, 'east');
  const client = adminClient(sandbox);
  const tracker = new ReadyTracker(client);
  try {
    await ensureNamespaces(client, NAMESPACES);
    await tracker.start();
    const before = (await sandbox.stats()).writes;
    const cpuBefore = cpuSecondsOf(sandbox.child.pid ?? 0);
    const clientBefore = process.cpuUsage();
    const stolen = stealMeter();
    const total = clusters.length * perCluster;
    const started = performance.now();
    await profiledWindow(sandbox, 'floor', async () => {
      await runPool(total, FLOOR_CONCURRENCY, async (k) => {
        const cluster = clusters[Math.floor(k / perCluster)]!;
        const { service, slice } = floorObjects(cluster, k % perCluster);
        const created = await client.create<V1Service>(R.services, service);
        await client.create(R.endpointSlices, slice(created.metadata?.uid ?? ''));
      });
      await tracker.waitForCount(total, timeoutMs);
    });
    const seconds = (performance.now() - started) / 1000;
    const serverWrites = (await sandbox.stats()).writes - before;
    const serverCpuSeconds = cpuSecondsOf(sandbox.child.pid ?? 0) - cpuBefore;
    const clientCpu = process.cpuUsage(clientBefore);
    return {
      creates: 2 * total,
      seconds,
      writesPerSecond: (2 * total) / seconds,
      serverWrites,
      load: loadavg()[0]!.toFixed(1),
      stolen: stolen(),
      serverCpuSeconds,
      clientCpuSeconds: (clientCpu.user + clientCpu.system) / 1e6,
    };
  } finally {
    await tracker.stop();
    client.close();
    await children.stop(sandbox.child);
  }
}

/**
 * Test support for the lab's kubelet: a sandbox API server with the install applied as `lab up`
 * applies it, and a stand-in script run as one isthmus-system process, started as local-lab.ts
 * starts its processes (its pod first, then the run with the pod's environment, then registered).
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KubeClient } from '../../kube/client.js';
import { startSandbox } from '../../sandbox/index.js';
import { bootstrapCluster, labInstallOptions } from './bootstrap.js';
import { ProcessGroup } from './processes.js';
import type { LabPart } from './system-argv.js';
import { SystemKubelet } from './system-kubelet.js';
import { type LabCluster, labNode } from './topology.js';

/** Only rendered into the install's Secret and ConfigMap: no process here reads them. */
const PEM = { anchorPem: 'anchor', issuerCertPem: 'issuer', issuerKeyPem: 'key' };

/** Things to close after the test, last first. */
export type Closers = Array<() => unknown>;

/** Closes what the test opened, last first, and removes its directory. */
export async function closeAll(closers: Closers, dir: string): Promise<void> {
  for (const close of closers.reverse()) await close();
  rmSync(dir, { recursive: true, force: true });
}

/**
 * A stand-in for a process's admin port, which node runs with `<host> <port> ...args`: `handle` is
 * the body of its request handler (`req`, `res` and `args` in scope, after `imports`). It stops
 * serving on SIGTERM, as the real processes do.
 */
export function adminStandIn(handle: string, imports = ''): string {
  return `${imports}
import { createServer } from 'node:http';
const [host, port, ...args] = process.argv.slice(2);
const server = createServer((req, res) => {
${handle}
});
server.listen(Number(port), host);
process.on('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
});
`;
}

/** The cluster's API server (a sandbox) with the install applied; its admin client. */
export async function installedSandbox(cluster: LabCluster, closers: Closers): Promise<KubeClient> {
  const sandbox = await startSandbox({ name: cluster.name, allowLoopbackEndpoints: true });
  closers.push(() => sandbox.close());
  const admin = KubeClient.fromKubeconfigString(sandbox.kubeconfig());
  closers.push(() => admin.close());
  await bootstrapCluster(admin, cluster, labInstallOptions(cluster, PEM));
  return admin;
}

export interface StandInProcess {
  /** `identity`, `gateway` or `controller`: the process `<cluster>/<part>` of `isthmus-<part>`. */
  part: string;
  /** Its address (pod IP). */
  host: string;
  /** The script node runs, with `args` (with `lab`: the argv the lab makes of its pod's container). */
  script: string;
  args: string[];
  /** What the lab has for the process: given, the script runs the Deployment's argv, as `lab up` runs it. */
  lab?: LabPart;
  /** A directory for the script and its log. */
  dir: string;
  notice?: (line: string) => void;
  /** ProcessGroupOptions.firstBackoffMs. */
  firstBackoffMs?: number;
}

/** The lab's kubelet and ProcessGroup running `p` as the cluster's process, Ready, watched. */
export async function runStandIn(
  admin: KubeClient,
  cluster: LabCluster,
  p: StandInProcess,
  closers: Closers,
): Promise<ProcessGroup> {
  const entry = join(p.dir, `${p.part}-stand-in.mjs`);
  writeFileSync(entry, p.script);
  const kubelet = new SystemKubelet(p.notice ?? (() => undefined), () => undefined);
  const procs = new ProcessGroup(kubelet, {
    entry,
    ...(p.firstBackoffMs === undefined ? {} : { firstBackoffMs: p.firstBackoffMs }),
  });
  kubelet.manage(procs);
  closers.push(async () => {
    await procs.stopAll();
    await kubelet.stop();
  });
  const name = `${cluster.name}/${p.part}`;
  const launch = await kubelet.admit(name, {
    admin,
    cluster: cluster.name,
    deployment: `isthmus-${p.part}`,
    host: p.host,
    node: labNode(cluster),
    ...(p.lab ? { lab: p.lab } : {}),
  });
  procs.start(name, launch.args ?? p.args, join(p.dir, `${p.part}.log`), { env: launch.env });
  // The pod is Ready once the run answers its Deployment's readiness probe.
  await kubelet.register(name);
  kubelet.watch(admin, cluster.name);
  return procs;
}

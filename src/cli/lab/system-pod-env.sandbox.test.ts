/**
 * The lab's processes get the environment their Deployment declares from the downward API, as a
 * kubelet gives it: the controller's `POD_NAME` is the name of the lab Pod that stands for it, the
 * same across restarts of the process in that pod (its Lease holder prefix, so a restarted run
 * takes its crashed run's Lease at once), a new one for a new pod (deleted, scaled to 0 and back,
 * rolled out). A stand-in for the controller's admin port (ready at once, `/env` answering the
 * run's pid and POD_NAME), the lab's own kubelet and ProcessGroup, and a sandbox API server with
 * the install applied as the lab applies it.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { KubeClient } from '../../kube/client.js';
import { SYSTEM_NAMESPACE } from '../../kube/keys.js';
import { R } from '../../kube/resources.js';
import type { V1Pod } from '../../kube/types.js';
import { waitFor } from '../../wait-for.js';
import type { ProcessGroup } from './processes.js';
import { adminStandIn, type Closers, closeAll, installedSandbox, runStandIn } from './test-support.js';
import { labCluster } from './topology.js';

/** West of a lab at --base 166: apart from every other test's addresses. */
const WEST = labCluster('west', 167);
const { host: HOST, adminPort: PORT } = WEST.controller;
const PROCESS = 'west/controller';
const DEPLOYMENT = 'isthmus-controller';

/** The controller's admin port as its probe sees it, and what this run was given. */
const STAND_IN = adminStandIn(
  `if (req.url === '/env') res.writeHead(200).end(JSON.stringify({ pid: process.pid, pod: process.env.POD_NAME ?? null }));
  else res.writeHead(req.url === '/ready' ? 200 : 404).end();`,
);

const dir = mkdtempSync(join(tmpdir(), 'isthmus-system-pod-env-'));
const closers: Closers = [];
let admin: KubeClient;

afterAll(() => closeAll(closers, dir));

/** West's API server with the install applied, and the lab's kubelet running the stand-in as its controller. */
async function startWest(): Promise<ProcessGroup> {
  admin = await installedSandbox(WEST, closers);
  // A crashed run is back after 100 ms, not the lab's 1 s.
  const p = {
    part: 'controller',
    host: HOST,
    script: STAND_IN,
    args: [HOST, String(PORT)],
    dir,
    firstBackoffMs: 100,
  };
  return runStandIn(admin, WEST, p, closers);
}

interface RunEnv {
  pid: number;
  pod: string | null;
}

/** What the run answering now was given, once it is not one of `earlier` (runs by pid). */
async function runAfter(what: string, earlier: number[]): Promise<RunEnv> {
  return waitFor(
    what,
    async () => {
      const res = await fetch(`http://${HOST}:${PORT}/env`);
      const env = (await res.json()) as RunEnv;
      return earlier.includes(env.pid) ? undefined : env;
    },
    { timeoutMs: 30_000, intervalMs: 100 },
  );
}

async function controllerPods(): Promise<V1Pod[]> {
  const { items } = await admin.list<V1Pod>(R.pods, {
    namespace: SYSTEM_NAMESPACE,
    labelSelector: `app.kubernetes.io/name=${DEPLOYMENT}`,
  });
  return items;
}

/** The controller's one live (not terminating) pod, once there is one and only one. */
async function livePod(what: string): Promise<V1Pod> {
  return waitFor(
    what,
    async () => {
      const items = await controllerPods();
      return items.length === 1 && !items[0]!.metadata?.deletionTimestamp ? items[0] : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 100 },
  );
}

const scale = (replicas: number) =>
  admin.patch(R.deployments, SYSTEM_NAMESPACE, DEPLOYMENT, { spec: { replicas } }, 'merge');

describe("the lab's isthmus-system processes", () => {
  it("see POD_NAME = their Pod's name: kept across restarts in the pod, new with a new pod", async () => {
    const procs = await startWest();
    const runs: number[] = [];
    const names: string[] = [];
    /** The next run, in a pod of a name no earlier pod had: the name it was given. */
    const runInNewPod = async (what: string): Promise<RunEnv> => {
      const run = await runAfter(`the run of ${what}`, runs);
      const pod = (await livePod(what)).metadata!.name!;
      expect(names).not.toContain(pod);
      expect(run.pod).toBe(pod);
      runs.push(run.pid);
      names.push(pod);
      return run;
    };

    const first = await runInNewPod('the first pod');
    const [pod] = names as [string];

    // Killed: the ProcessGroup restarts it in the same pod, which keeps its name.
    process.kill(first.pid, 'SIGKILL');
    const restarted = await runAfter('the restarted run', runs);
    expect(restarted.pod).toBe(pod);
    expect((await livePod('the same pod')).metadata?.name).toBe(pod);
    expect(procs.process(PROCESS)?.restarts).toBe(1);
    runs.push(restarted.pid);

    // `kubectl delete pod`: a new pod, whose name the next run is given.
    await admin.delete(R.pods, SYSTEM_NAMESPACE, pod);
    await runInNewPod('the replacement pod');

    // Scaled to 0 and back: a fresh pod.
    await scale(0);
    await waitFor('its pod to go', async () => (await controllerPods()).length === 0 || undefined, {
      timeoutMs: 30_000,
      intervalMs: 100,
    });
    await scale(1);
    await runInNewPod('the pod after scaling back to 1');

    // `kubectl rollout restart`: a new template, a new pod.
    const restartedAt = { 'kubectl.kubernetes.io/restartedAt': new Date().toISOString() };
    const template = { spec: { template: { metadata: { annotations: restartedAt } } } };
    await admin.patch(R.deployments, SYSTEM_NAMESPACE, DEPLOYMENT, template, 'merge');
    await runInNewPod('the rolled-out pod');
  }, 120_000);
});

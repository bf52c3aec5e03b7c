/**
 * `isthmus check` against a strict sandbox holding the install: after `kill -KILL` of the leading
 * controller and its pod replaced, the Lease still names the dead run (held until it runs out,
 * ~15 s with no leader). The controller check warns, naming the holder, its pod's fate and when the
 * Lease runs out; a run restarted in the same pod takes the Lease at once, so that says nothing.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { KubeClient } from '../../kube/client.js';
import { SYSTEM_NAMESPACE } from '../../kube/keys.js';
import { microTime } from '../../kube/leader-election.js';
import { R } from '../../kube/resources.js';
import type { KubeObject, V1Deployment, V1Lease, V1Pod } from '../../kube/types.js';
import { MIRROR_LEASE_NAME } from '../../mirror/leadership.js';
import { type Sandbox, startSandbox } from '../../sandbox/index.js';
import { installManifests } from '../install/render.js';
import { testInstallOptions } from '../install/test-options.js';
import { applyObjects } from '../lab/apply-objects.js';
import { checkController } from './checks/controller.js';
import { gatherFacts } from './gather.js';
import { podStatus } from './test-builders.js';

const OLD_POD = 'isthmus-controller-7d9f8c6b5-x2k4q';
const NEW_POD = 'isthmus-controller-7d9f8c6b5-m8p3z';
const WHAT = 'the controller is running and leader elected';

let sandbox: Sandbox;
let client: KubeClient;

/** A controller pod as its ReplicaSet creates it, on a node, then running as the kubelet writes it. */
async function controllerPod(name: string, restartCount = 0): Promise<void> {
  const d = (await client.get<V1Deployment>(R.deployments, SYSTEM_NAMESPACE, 'isthmus-controller'))!;
  const template = d.spec!.template;
  const created = await client.create<V1Pod>(R.pods, {
    metadata: { name, namespace: SYSTEM_NAMESPACE, labels: template.metadata?.labels ?? {} },
    spec: { ...template.spec!, nodeName: 'node-a' },
  });
  const status = podStatus.running(true);
  status.containerStatuses = status.containerStatuses!.map((c) => ({
    ...c,
    name: 'controller',
    restartCount,
  }));
  await client.replaceStatus(R.pods, { ...created, status });
}

/**
 * The Lease as `holder` last renewed it, just now. Long, so that it is still held when the check
 * reads it however slow the machine (the install's is 15 s).
 */
async function leaseHeldBy(holder: string): Promise<void> {
  const existing = await client.get<V1Lease>(R.leases, SYSTEM_NAMESPACE, MIRROR_LEASE_NAME);
  const spec = {
    holderIdentity: holder,
    leaseDurationSeconds: 600,
    acquireTime: microTime(Date.now()),
    renewTime: microTime(Date.now()),
  } as unknown as V1Lease['spec'];
  if (existing) await client.replace(R.leases, { ...existing, spec });
  else
    await client.create<V1Lease>(R.leases, {
      metadata: { name: MIRROR_LEASE_NAME, namespace: SYSTEM_NAMESPACE },
      spec,
    });
}

async function deletePods(): Promise<void> {
  const { items } = await client.list<V1Pod>(R.pods, { namespace: SYSTEM_NAMESPACE });
  for (const p of items)
    await client.delete(R.pods, SYSTEM_NAMESPACE, p.metadata!.name!, { gracePeriodSeconds: 0 });
}

beforeAll(async () => {
  sandbox = await startSandbox({ name: 'east' });
  client = KubeClient.fromKubeconfigString(sandbox.kubeconfig(), undefined, {
    rateLimit: { qps: 0, burst: 0 },
  });
  await applyObjects(client, installManifests(testInstallOptions()) as KubeObject[]);
});

beforeEach(deletePods);

afterAll(async () => {
  client?.close();
  await sandbox?.close();
});

describe('isthmus check: a Lease held by a run whose pod is no more', () => {
  it('kill -KILL and the pod replaced: warns, naming the holder, its pod gone and when the Lease runs out', async () => {
    await controllerPod(NEW_POD);
    await leaseHeldBy(`${OLD_POD}_k3j2h1`);
    const result = checkController(await gatherFacts(client, { remoteTimeoutMs: 2000 }));
    expect(result.description).toBe(WHAT);
    expect(result.status).toBe('warn');
    expect(result.hints).toHaveLength(1);
    expect(result.hints[0]).toMatch(
      new RegExp(
        `^Lease isthmus-system/isthmus-mirror is held by ${OLD_POD}_k3j2h1, whose pod ${OLD_POD} is gone: no other controller can lead until the Lease runs out at \\S+Z by the API server's clock \\(in \\d+s\\); see \`kubectl -n isthmus-system get pods -l app.kubernetes.io/name=isthmus-controller\`$`,
      ),
    );
  });

  it('the holder pod being deleted (Terminating): warns that its pod is terminating', async () => {
    await controllerPod(OLD_POD);
    await controllerPod(NEW_POD);
    await client.delete(R.pods, SYSTEM_NAMESPACE, OLD_POD, { gracePeriodSeconds: 30 });
    await leaseHeldBy(`${OLD_POD}_k3j2h1`);
    const result = checkController(await gatherFacts(client, { remoteTimeoutMs: 2000 }));
    expect(result.status).toBe('warn');
    expect(result.hints[0]).toContain(`whose pod ${OLD_POD} is terminating:`);
  });

  it('kill -KILL with the container restarted in the same pod: the new run takes the Lease at once, no warning', async () => {
    await controllerPod(OLD_POD, 1);
    await leaseHeldBy(`${OLD_POD}_k3j2h1`);
    const result = checkController(await gatherFacts(client, { remoteTimeoutMs: 2000 }));
    expect(result).toEqual({ description: WHAT, status: 'ok', hints: [] });
  });
});

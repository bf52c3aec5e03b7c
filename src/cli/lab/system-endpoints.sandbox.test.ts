/**
 * The isthmus-system Services' endpoints in the lab follow the lab's Pods, as a real cluster's
 * EndpointSlice controller follows pod readiness: the lab's kubelet probes the gateway process as
 * its Deployment's readiness probe says, so a gateway whose `/ready` fails gets a not-ready Pod and
 * a not-ready endpoint (and the mirror controller no local gateway address), and a Deployment scaled
 * to 0 has no Pod and no endpoint. A real process (a stand-in for the gateway's admin port, ready
 * while a file exists), the lab's own kubelet, ProcessGroup and EndpointSlice controller, and a
 * sandbox API server with the install applied as the lab applies it.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { KubeClient } from '../../kube/client.js';
import { GATEWAY_SERVICE_NAME, PORTS, SERVICE_NAME_LABEL, SYSTEM_NAMESPACE } from '../../kube/keys.js';
import { R } from '../../kube/resources.js';
import type { V1EndpointSlice, V1Pod } from '../../kube/types.js';
import { readyGatewayAddresses } from '../../mirror/gateway-addresses.js';
import { waitFor } from '../../wait-for.js';
import { LabEndpointSliceController } from './lab-endpointslices.js';
import { processAlive } from './lab-state.js';
import type { ProcessGroup } from './processes.js';
import { adminStandIn, type Closers, closeAll, installedSandbox, runStandIn } from './test-support.js';
import { labCluster } from './topology.js';

/** West of a lab at --base 162: apart from every other test's addresses. */
const WEST = labCluster('west', 163);
const GATEWAY = WEST.gateway.host;

/** The gateway's admin port as its probes see it: /ready answers 200 while `readyFile` exists. */
const STAND_IN = adminStandIn(
  `const ready = existsSync(args[0]);
  if (req.url === '/ready') res.writeHead(ready ? 200 : 503).end(ready ? 'ready\\n' : 'not ready: no certificate\\n');
  else res.writeHead(req.url === '/live' ? 200 : 404).end();`,
  "import { existsSync } from 'node:fs';",
);

const dir = mkdtempSync(join(tmpdir(), 'isthmus-system-endpoints-'));
const readyFile = join(dir, 'ready');
const closers: Closers = [];
const notices: string[] = [];
let admin: KubeClient;

afterAll(() => closeAll(closers, dir));

/**
 * West's API server with the install applied as `lab up` applies it, the lab's EndpointSlice
 * controller, and its kubelet running the stand-in as west's gateway process.
 */
async function startWest(): Promise<ProcessGroup> {
  admin = await installedSandbox(WEST, closers);
  const slices = new LabEndpointSliceController(admin);
  await slices.start();
  closers.push(() => slices.stop());
  return runStandIn(
    admin,
    WEST,
    {
      part: 'gateway',
      host: GATEWAY,
      script: STAND_IN,
      args: [GATEWAY, String(PORTS.admin), readyFile],
      dir,
      notice: (line) => notices.push(line),
    },
    closers,
  );
}

interface Endpoint {
  service: string;
  address: string | undefined;
  ready: boolean | undefined;
  serving: boolean | undefined;
}

async function gatewaySlices(service = GATEWAY_SERVICE_NAME): Promise<V1EndpointSlice[]> {
  const { items } = await admin.list<V1EndpointSlice>(R.endpointSlices, {
    namespace: SYSTEM_NAMESPACE,
    labelSelector: `${SERVICE_NAME_LABEL}=${service}`,
  });
  return items;
}

/** The endpoints of the gateway's two Services (the tunnels' and the admin port's). */
async function gatewayEndpoints(): Promise<Endpoint[]> {
  const out: Endpoint[] = [];
  for (const service of [GATEWAY_SERVICE_NAME, `${GATEWAY_SERVICE_NAME}-admin`])
    for (const s of await gatewaySlices(service))
      for (const e of s.endpoints ?? [])
        out.push({
          service,
          address: e.addresses[0],
          ready: e.conditions?.ready,
          serving: e.conditions?.serving,
        });
  return out;
}

const endpointsOf = (ready: boolean): Endpoint[] =>
  [GATEWAY_SERVICE_NAME, `${GATEWAY_SERVICE_NAME}-admin`].map((service) => ({
    service,
    address: GATEWAY,
    ready,
    serving: ready,
  }));

/** Waits until the gateway's endpoints are `want`; the last seen in the error otherwise. */
async function endpointsBecome(what: string, want: Endpoint[]): Promise<void> {
  let seen: Endpoint[] = [];
  await waitFor(
    what,
    async () => {
      seen = await gatewayEndpoints();
      return JSON.stringify(seen) === JSON.stringify(want) ? true : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 100 },
  ).catch((err: unknown) => {
    throw new Error(`${String(err)}; endpoints: ${JSON.stringify(seen)}`);
  });
}

async function gatewayPods(): Promise<V1Pod[]> {
  const { items } = await admin.list<V1Pod>(R.pods, {
    namespace: SYSTEM_NAMESPACE,
    labelSelector: 'app.kubernetes.io/name=isthmus-gateway',
  });
  return items;
}

const podReady = (p: V1Pod | undefined) => p?.status?.conditions?.find((c) => c.type === 'Ready')?.status;

const alive = (pid: number | undefined) => pid !== undefined && processAlive(pid);

describe("the lab's isthmus-system endpoints", () => {
  it("follow the gateway pod's readiness probe and its Deployment's replicas, as a cluster's would", async () => {
    writeFileSync(readyFile, '');
    const procs = await startWest();

    await endpointsBecome('a ready gateway endpoint', endpointsOf(true));
    expect(readyGatewayAddresses(await gatewaySlices())).toEqual([GATEWAY]);

    // /ready says 503 (a gateway without its certificate): the probe fails, the pod and its
    // endpoints turn not ready, and the mirror controller has no local gateway to point at.
    rmSync(readyFile);
    await endpointsBecome('a not-ready gateway endpoint', endpointsOf(false));
    const [notReady] = await gatewayPods();
    expect(podReady(notReady)).toBe('False');
    expect(notReady?.status?.containerStatuses?.[0]?.ready).toBe(false);
    expect(readyGatewayAddresses(await gatewaySlices())).toEqual([]);
    expect(notices).toContain('west/gateway is not ready: HTTP probe failed with statuscode: 503');

    writeFileSync(readyFile, '');
    await endpointsBecome('the gateway endpoint ready again', endpointsOf(true));
    expect(podReady((await gatewayPods())[0])).toBe('True');

    // Scaled to 0: the process stops, its pod goes and so does its endpoint.
    const pid = procs.pids()['west/gateway'];
    const scale = (replicas: number) =>
      admin.patch(R.deployments, SYSTEM_NAMESPACE, 'isthmus-gateway', { spec: { replicas } }, 'merge');
    rmSync(readyFile);
    await scale(0);
    await endpointsBecome('no gateway endpoint', []);
    expect(await gatewayPods()).toEqual([]);
    expect(alive(pid)).toBe(false);

    // Back to 1 with a run that never gets ready: a pod at once, 0/1, and a not-ready endpoint...
    await scale(1);
    await endpointsBecome('a not-ready endpoint of the new run', endpointsOf(false));
    expect(alive(procs.pids()['west/gateway'])).toBe(true);
    expect((await gatewayPods())[0]?.status?.containerStatuses?.[0]?.ready).toBe(false);
    // ...which holds up no scale to 0 while the kubelet waits for it to answer.
    await scale(0);
    await endpointsBecome('no gateway endpoint again', []);

    writeFileSync(readyFile, '');
    await scale(1);
    await endpointsBecome('a ready gateway endpoint after scaling back', endpointsOf(true));
    expect(alive(procs.pids()['west/gateway'])).toBe(true);
    expect(podReady((await gatewayPods())[0])).toBe('True');
  });
});

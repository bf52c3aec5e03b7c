/**
 * `isthmus routes` against a strict sandbox: a gateway pod that runs but is not ready answers its
 * `/routes` with no listener and its `/ready` with why, both read through the API server's pod
 * proxy, beside a mirror that has egress ports. The gateway's admin port is a real listener.
 */
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeClient } from '../../kube/client.js';
import { PORTS, SYSTEM_NAMESPACE } from '../../kube/keys.js';
import { R } from '../../kube/resources.js';
import type { V1Pod } from '../../kube/types.js';
import { type Sandbox, startSandbox } from '../../sandbox/index.js';
import { readRoutesFacts } from './routes-facts.js';
import { renderRoutesTable, routeRows } from './routes-view.js';
import { pod, podStatus } from './test-builders.js';

/** The pod's address: loopback, so that the pod proxy reaches the admin server below. */
const POD_IP = '127.0.87.41';
const POD = 'isthmus-gateway-7d9f-abcde';

let sandbox: Sandbox;
let client: KubeClient;
let admin: Server;

beforeAll(async () => {
  // A gateway that has no certificate yet (identity is down): no listener, and not ready.
  admin = createServer((req, res) => {
    if (req.url === '/routes')
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"routes":[]}');
    else if (req.url === '/ready') res.writeHead(503).end('not ready: certificates not loaded');
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => admin.listen(PORTS.admin, POD_IP, () => r()));
  sandbox = await startSandbox({ name: 'east', allowLoopbackEndpoints: true });
  client = KubeClient.fromKubeconfigString(sandbox.kubeconfig());
  await client.create(R.namespaces, { metadata: { name: SYSTEM_NAMESPACE } });
  await client.create(R.namespaces, { metadata: { name: 'test' } });
  const created = await client.create<V1Pod>(R.pods, {
    ...pod(POD, {}),
    spec: { ...pod(POD, {}).spec!, nodeName: 'node-a' },
    status: undefined,
  });
  const status = podStatus.running(false);
  await client.replaceStatus(R.pods, {
    ...created,
    status: { ...status, podIP: POD_IP, podIPs: [{ ip: POD_IP }] },
  });
  await client.create(R.services, {
    metadata: {
      name: 'podinfo-west',
      namespace: 'test',
      labels: { 'mirror.linkerd.io/mirrored-service': 'true', 'mirror.linkerd.io/cluster-name': 'west' },
      annotations: { 'isthmus.dev/egress-ports': '9898=20000' },
    },
    spec: { ports: [{ port: 9898 }] },
  });
});

afterAll(async () => {
  client?.close();
  await sandbox?.close();
  await new Promise((r) => admin?.close(r));
});

describe('isthmus routes with no listener', () => {
  it('reads why the running gateway pod is not ready, and the mirror that waits for it', async () => {
    const facts = await readRoutesFacts(client, 2000);
    expect(facts).toEqual({
      pods: [
        {
          pod: POD,
          ready: false,
          routes: [],
          refused: [],
          readiness: { ok: true, value: ['certificates not loaded'] },
        },
      ],
      mirrors: { ok: true, value: ['test/podinfo-west'] },
    });
    expect(renderRoutesTable(routeRows(facts.pods), facts)).toContain(
      `gateway pod ${POD} is running but not ready (certificates not loaded): a gateway listens once it is ready`,
    );
  });
});

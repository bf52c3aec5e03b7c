import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  EGRESS_PORTS_ANNOTATION,
  REMOTE_GATEWAY_ANNOTATION,
  REMOTE_SVC_FQ_NAME_ANNOTATION,
} from '../kube/keys.js';
import { R } from '../kube/resources.js';
import {
  type Cluster,
  closeCluster,
  condition,
  exportService,
  getLink,
  getService,
  getSlice,
  link,
  ProbeStub,
  setRemoteEndpoints,
  startCluster,
  startController,
  waitFor,
} from './test-harness.js';

let east: Cluster | undefined;
let west: Cluster | undefined;
let probe: ProbeStub;
let controller: Awaited<ReturnType<typeof startController>> | undefined;

beforeEach(async () => {
  probe = new ProbeStub();
  await probe.start();
  // TLS here (the other scenarios use plain HTTP for speed): the remote client is built from the
  // credentials Secret's kubeconfig, CA included, as in production.
  [east, west] = await Promise.all([
    startCluster('east', { tls: true }),
    startCluster('west', { tls: true }),
  ]);
});

afterEach(async () => {
  await controller?.stop();
  controller = undefined;
  await Promise.all([closeCluster(east), closeCluster(west)]);
  await probe.close();
});

describe('mirror controller against sandbox clusters', () => {
  it('mirrors an exported service, follows changes and removes it when unexported', async () => {
    const local = east!;
    const remote = west!;
    await exportService(remote, 'podinfo', { ready: 2, labels: { app: 'podinfo' } });
    await link(local, remote, 'west');
    controller = startController(local, probe);

    const slice = await waitFor(
      async () => {
        const s = await getSlice(local, 'default', 'podinfo-west');
        return s?.endpoints?.[0]?.conditions?.ready === true ? s : undefined;
      },
      { what: 'ready mirror slice' },
    );
    const svc = await getService(local, 'default', 'podinfo-west');
    expect(svc?.metadata?.labels).toMatchObject({ app: 'podinfo', 'mirror.linkerd.io/cluster-name': 'west' });
    expect(svc?.metadata?.annotations?.[REMOTE_SVC_FQ_NAME_ANNOTATION]).toBe(
      'podinfo.default.svc.cluster.local',
    );
    expect(svc?.metadata?.annotations?.[REMOTE_GATEWAY_ANNOTATION]).toBe('10.1.0.1:4143');
    expect(svc?.metadata?.annotations?.[EGRESS_PORTS_ANNOTATION]).toBe('http=20000');
    expect(slice.endpoints).toEqual([
      { addresses: ['10.0.0.5'], conditions: expect.objectContaining({ ready: true }) },
    ]);
    expect(slice.ports).toEqual([expect.objectContaining({ name: 'http', port: 20000 })]);
    expect(slice.metadata?.ownerReferences?.[0]?.uid).toBe(svc?.metadata?.uid);

    await waitFor(async () => condition(await getLink(local, 'west'), 'Ready')?.status === 'True', {
      what: 'Link Ready',
    });
    const l = await getLink(local, 'west');
    expect(l?.status?.mirroredServices).toBe(1);
    expect(l?.metadata?.finalizers).toContain('multicluster.isthmus.dev/mirrors');

    // No ready remote endpoint → no endpoints.
    await setRemoteEndpoints(remote, 'default', 'podinfo', 0);
    await waitFor(async () => (await getSlice(local, 'default', 'podinfo-west'))?.endpoints?.length === 0, {
      what: 'endpoints emptied',
    });

    // Label change follows; unexport removes the mirror.
    const rsvc = await getService(remote, 'default', 'podinfo');
    await remote.client.replace(R.services, {
      ...rsvc,
      metadata: { ...rsvc!.metadata, labels: { ...rsvc!.metadata!.labels, app: 'podinfo-v2' } },
    });
    await waitFor(
      async () =>
        (await getService(local, 'default', 'podinfo-west'))?.metadata?.labels?.app === 'podinfo-v2',
    );
    const again = await getService(remote, 'default', 'podinfo');
    await remote.client.replace(R.services, {
      ...again,
      metadata: { ...again!.metadata, labels: { app: 'x' } },
    });
    await waitFor(async () => !(await getService(local, 'default', 'podinfo-west')), {
      what: 'mirror deleted',
    });
    expect(await getSlice(local, 'default', 'podinfo-west')).toBeUndefined();
  });
});

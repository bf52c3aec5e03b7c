import { afterEach, describe, expect, it } from 'vitest';
import { KubeClient } from '../../kube/client.js';
import { R } from '../../kube/resources.js';
import type { V1EndpointSlice, V1Pod, V1Service } from '../../kube/types.js';
import { startSandbox } from '../../sandbox/index.js';
import { waitFor } from '../../wait-for.js';
import {
  LabEndpointSliceController,
  MAX_ENDPOINTS_PER_SLICE,
  planServiceSlices,
} from './lab-endpointslices.js';

const NS = 'apps';

function svc(name: string, spec: Partial<NonNullable<V1Service['spec']>> = {}, labels = {}): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: NS, uid: `uid-${name}`, labels },
    spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 'http' }], ...spec },
  };
}

function pod(
  name: string,
  ip: string,
  opts: { ready?: boolean; labels?: Record<string, string>; port?: number } = {},
): V1Pod {
  return {
    metadata: { name, namespace: NS, uid: `uid-${name}`, labels: opts.labels ?? { app: 'web' } },
    spec: {
      nodeName: 'node-1',
      containers: [
        { name: 'web', image: 'web:1', ports: [{ name: 'http', containerPort: opts.port ?? 8080 }] },
      ],
    },
    status: {
      phase: 'Running',
      podIP: ip,
      podIPs: [{ ip }],
      conditions: [{ type: 'Ready', status: opts.ready === false ? 'False' : 'True' }],
    },
  };
}

describe('planServiceSlices', () => {
  it('lists the selected pods with named ports resolved per pod, readiness from the Ready condition', () => {
    const slices = planServiceSlices(svc('web', {}, { team: 'a' }), [
      pod('web-1', '10.0.0.1'),
      pod('web-2', '10.0.0.2', { ready: false }),
      pod('other', '10.0.0.9', { labels: { app: 'other' } }),
    ]);
    expect(slices).toHaveLength(1);
    const [s] = slices;
    expect(s!.metadata?.name).toBe('web-lab');
    expect(s!.metadata?.labels).toEqual({
      team: 'a',
      'kubernetes.io/service-name': 'web',
      'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io',
    });
    expect(s!.metadata?.ownerReferences?.[0]).toMatchObject({
      kind: 'Service',
      name: 'web',
      uid: 'uid-web',
      controller: true,
    });
    expect(s!.addressType).toBe('IPv4');
    expect(s!.ports).toEqual([{ name: 'http', port: 8080, protocol: 'TCP' }]);
    expect(s!.endpoints.map((e) => [e.addresses[0], e.conditions?.ready, e.targetRef?.name])).toEqual([
      ['10.0.0.1', true, 'web-1'],
      ['10.0.0.2', false, 'web-2'],
    ]);
  });

  it('splits pods whose named port differs, and by IP family', () => {
    const slices = planServiceSlices(svc('web'), [
      pod('a', '10.0.0.1', { port: 8080 }),
      pod('b', '10.0.0.2', { port: 9090 }),
      pod('c', 'fd00::3', { port: 8080 }),
    ]);
    const shape = slices.map((s) => [
      s.addressType,
      s.ports?.[0]?.port,
      s.endpoints.map((e) => e.addresses[0]),
    ]);
    expect(shape).toEqual([
      ['IPv4', 8080, ['10.0.0.1']],
      ['IPv4', 9090, ['10.0.0.2']],
      ['IPv6', 8080, ['fd00::3']],
    ]);
    expect(slices.map((s) => s.metadata?.name)).toEqual(['web-lab', 'web-lab-2', 'web-lab-3']);
  });

  it(`keeps at most ${MAX_ENDPOINTS_PER_SLICE} endpoints per slice`, () => {
    const pods = Array.from({ length: 250 }, (_, i) =>
      pod(`p${String(i).padStart(3, '0')}`, `10.0.${i >> 8}.${i & 255}`),
    );
    const slices = planServiceSlices(svc('web'), pods);
    expect(slices.map((s) => s.endpoints.length)).toEqual([100, 100, 50]);
  });

  it('lists a terminating pod as not ready, serving while its Ready condition holds, and terminating', () => {
    const going = (name: string, ip: string, ready: boolean) => {
      const p = pod(name, ip, { ready });
      p.metadata = { ...p.metadata, deletionTimestamp: '2026-11-22T10:00:30Z' as unknown as Date };
      return p;
    };
    const [s] = planServiceSlices(svc('web'), [
      pod('web-1', '10.0.0.1'),
      going('web-2', '10.0.0.2', true),
      going('web-3', '10.0.0.3', false),
    ]);
    expect(s!.endpoints.map((e) => [e.addresses[0], e.conditions])).toEqual([
      ['10.0.0.1', { ready: true, serving: true, terminating: false }],
      ['10.0.0.2', { ready: false, serving: true, terminating: true }],
      ['10.0.0.3', { ready: false, serving: false, terminating: true }],
    ]);
  });

  it('writes a placeholder without ports when nothing is selected, and nothing for a selector-less Service', () => {
    const [placeholder] = planServiceSlices(svc('web'), []);
    expect(placeholder!.ports).toEqual([]);
    expect(placeholder!.endpoints).toEqual([]);
    expect(planServiceSlices(svc('mirror', { selector: undefined }), [pod('a', '10.0.0.1')])).toEqual([]);
  });

  it('leaves a pod out of a port it cannot resolve, and gives hostnames only to its subdomain', () => {
    const p = pod('db-0', '10.0.0.1');
    p.spec = { ...p.spec!, hostname: 'db-0', subdomain: 'db' };
    const [s] = planServiceSlices(
      svc('db', { clusterIP: 'None', ports: [{ name: 'sql', port: 5432, targetPort: 'sql' }] }),
      [p],
    );
    expect(s!.ports).toEqual([]);
    expect(s!.endpoints[0]!.hostname).toBe('db-0');
    expect(s!.metadata?.labels?.['service.kubernetes.io/headless']).toBe('');
    const [other] = planServiceSlices(svc('web'), [p]);
    expect(other!.endpoints[0]!.hostname).toBeUndefined();
  });
});

describe('LabEndpointSliceController against a strict API server', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function setup() {
    const sandbox = await startSandbox({ name: 'west' });
    cleanups.push(() => sandbox.close());
    const client = KubeClient.fromKubeconfigString(sandbox.kubeconfig());
    cleanups.push(() => client.close());
    await client.create(R.namespaces, { metadata: { name: NS } });
    const controller = new LabEndpointSliceController(client);
    await controller.start();
    cleanups.push(() => controller.stop());
    return { client };
  }

  /** As the kubelet does: the Pod, then its status with an IP and Ready. */
  async function runPod(client: KubeClient, name: string, ip: string) {
    const { metadata, spec, status } = pod(name, ip);
    const { uid: _uid, ...meta } = metadata!;
    await client.create<V1Pod>(R.pods, { apiVersion: 'v1', kind: 'Pod', metadata: meta, spec });
    await client.patchStatus(R.pods, NS, name, { status }, 'merge');
  }

  const endpointsOf = async (client: KubeClient, service: string) => {
    const list = await client.list<V1EndpointSlice>(R.endpointSlices, {
      namespace: NS,
      labelSelector: `kubernetes.io/service-name=${service}`,
    });
    return list.items
      .flatMap((s) => (s.endpoints ?? []).map((e) => `${e.addresses[0]}:${s.ports?.[0]?.port}`))
      .sort();
  };

  it('follows a Service a user adds and the pods it selects, and its slices go with it', async () => {
    const { client } = await setup();
    await runPod(client, 'web-1', '10.0.0.1');
    const { uid: _ignored, ...meta } = svc('web').metadata!;
    await client.create(R.services, { ...svc('web'), metadata: meta });
    await waitFor(
      'the slice of web',
      async () => (await endpointsOf(client, 'web')).join() === '10.0.0.1:8080',
      5000,
    );

    await runPod(client, 'web-2', '10.0.0.2');
    await waitFor(
      'web-2 listed',
      async () => (await endpointsOf(client, 'web')).join() === '10.0.0.1:8080,10.0.0.2:8080',
      5000,
    );

    // A pod on a node terminates for its grace: listed, terminating, until its kubelet deletes it.
    await client.delete(R.pods, NS, 'web-1');
    await waitFor(
      'web-1 terminating',
      async () => {
        const { items } = await client.list<V1EndpointSlice>(R.endpointSlices, { namespace: NS });
        const web1 = items.flatMap((s) => s.endpoints).find((e) => e.addresses[0] === '10.0.0.1');
        return (
          web1?.conditions?.terminating === true && web1.conditions.serving === true && !web1.conditions.ready
        );
      },
      5000,
    );
    await client.delete(R.pods, NS, 'web-1', { gracePeriodSeconds: 0 });
    await waitFor(
      'web-1 gone',
      async () => (await endpointsOf(client, 'web')).join() === '10.0.0.2:8080',
      5000,
    );

    await client.delete(R.services, NS, 'web');
    await waitFor(
      'the slices of web deleted',
      async () => (await client.list(R.endpointSlices, { namespace: NS })).items.length === 0,
      5000,
    );
  });
});

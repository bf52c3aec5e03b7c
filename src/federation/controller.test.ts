/**
 * The federation controller against the strict sandbox API server (realistic 10.x pod IPs,
 * loopback endpoints refused). The local member's slice is written as the EndpointSlice controller
 * would; the mirrors of remote members as the mirror controller would (gateway pod 10.0.0.5 at
 * egress ports).
 */
import type { Registry } from 'prom-client';
import { describe, expect, it, onTestFinished } from 'vitest';
import { readFederatedRows, renderFederatedTable } from '../cli/check/federated-view.js';
import {
  PRIMARY_PODS as CART_PODS,
  GATEWAY_POD,
  podIPs,
  podSlices,
  service,
  slice,
} from '../failover/test-builders.js';
import { controllerSandbox } from '../failover/test-sandbox.js';
import { KubeClient } from '../kube/client.js';
import { EventRecorder } from '../kube/events.js';
import { FlakyClient } from '../kube/flaky-client.js';
import { createInformer, type Informer } from '../kube/informer.js';
import {
  CLUSTER_NAME_LABEL,
  FEDERATED_LABEL,
  FEDERATED_SERVICE_LABEL,
  FEDERATION_AFFINITY_ANNOTATION,
  FEDERATION_LABEL,
  FEDERATION_MEMBERS_ANNOTATION,
  FEDERATION_NO_MATCHING_PORT_ANNOTATION,
  MANAGED_BY_LABEL,
  MIRRORED_SERVICE_LABEL,
  REMOTE_DISCOVERY_LABEL,
  SERVICE_NAME_LABEL,
} from '../kube/keys.js';
import { R } from '../kube/resources.js';
import { TcpRelay } from '../kube/tcp-relay.js';
import { synced } from '../kube/test-support.js';
import type { CoreV1Event, V1EndpointSlice, V1Namespace, V1Service } from '../kube/types.js';
import { createLocalInformers, type LocalInformers } from '../mirror/controller.js';
import { waitFor } from '../mirror/test-wait.js';
import type { Sandbox } from '../sandbox/index.js';
import { type FederationController, runFederationController } from './controller.js';
import { FEDERATION_STANDBY_ANNOTATION } from './plan-federation.js';

let sandbox: Sandbox;
/** The test's own client, not rate-limited; the controller's, at the production limit (test-sandbox.ts). */
let client: KubeClient;
let controllerClient: KubeClient;
let informers: LocalInformers;
let controller: FederationController | undefined;
let registry: Registry;
let ns: string;

controllerSandbox({
  nsPrefix: 'federation',
  use: (s) => {
    ({ sandbox, client, controllerClient, registry, ns } = s);
    controller = undefined;
  },
  stopEach: async () => {
    await controller?.stop();
    await Promise.all([informers?.services.stop(), informers?.slices.stop()]);
  },
});

function start(
  writer: KubeClient = controllerClient,
  namespaces?: Informer<V1Namespace>,
  reader: KubeClient = controllerClient,
): FederationController {
  informers = createLocalInformers(reader);
  informers.services.start();
  informers.slices.start();
  controller = runFederationController({
    client: writer,
    registry,
    recorder: new EventRecorder(controllerClient, { component: 'isthmus-federation' }),
    localCluster: 'east',
    informers: { ...informers, ...(namespaces ? { namespaces } : {}) },
    // Retries of a failed reconcile (the flaky-client test) after 20 ms, 40 ms…, not 100, 200…
    queueBackoff: { baseMs: 20, maxMs: 300 },
  });
  return controller;
}

const localMember = (): V1Service => ({
  ...service(ns, 'cart', [{ name: 'http', port: 8080 }], { app: 'cart' }),
  metadata: { namespace: ns, name: 'cart', labels: { [FEDERATED_LABEL]: 'member' } },
});
const localSlice = (): V1EndpointSlice => ({
  ...slice(ns, 'cart', { ready: CART_PODS, port: 8080 }),
  metadata: {
    namespace: ns,
    name: 'cart-abc12',
    labels: { [SERVICE_NAME_LABEL]: 'cart', [MANAGED_BY_LABEL]: 'endpointslice-controller.k8s.io' },
  },
});
const memberMirror = (cluster: string): V1Service => ({
  ...service(ns, `cart-${cluster}`, [{ name: 'http', port: 8080 }]),
  metadata: {
    namespace: ns,
    name: `cart-${cluster}`,
    labels: { [MIRRORED_SERVICE_LABEL]: 'true', [CLUSTER_NAME_LABEL]: cluster, [FEDERATION_LABEL]: 'cart' },
  },
});
const mirrorSlice = (cluster: string, port: number, ready = true, portName = 'http') =>
  slice(ns, `cart-${cluster}`, {
    mirror: true,
    port,
    portName,
    name: `cart-${cluster}-gw`,
    [ready ? 'ready' : 'notReady']: [GATEWAY_POD],
  });
/** A finalizer no controller removes: what keeps a namespace in Terminating until the test lets go. */
const HOLD = 'test.isthmus.dev/hold';

async function fixture(): Promise<void> {
  await client.create(R.services, localMember());
  await client.create(R.endpointSlices, localSlice());
  await client.create(R.services, memberMirror('west'));
  await client.create(R.endpointSlices, mirrorSlice('west', 20001));
  await client.create(R.services, memberMirror('north'));
  await client.create(R.endpointSlices, mirrorSlice('north', 20002));
}

const federated = () => client.get<V1Service>(R.services, ns, 'cart-federated');
const federatedSlices = async () =>
  (
    await client.list<V1EndpointSlice>(R.endpointSlices, {
      namespace: ns,
      labelSelector: `${SERVICE_NAME_LABEL}=cart-federated`,
    })
  ).items;
/** What kube-proxy would balance over for `cart-federated`: every ready address:port of its slices. */
async function endpoints(): Promise<string[]> {
  return (await federatedSlices())
    .flatMap((s) =>
      s.endpoints.filter((e) => e.conditions?.ready).map((e) => `${e.addresses[0]}:${s.ports?.[0]?.port}`),
    )
    .sort();
}
/** `<member cluster>: <endpoints>` for each slice of `cart-federated`. */
async function sliceSizes(): Promise<string[]> {
  const clusterOf = (s: V1EndpointSlice) => s.metadata?.labels?.[CLUSTER_NAME_LABEL];
  return (await federatedSlices()).map((s) => `${clusterOf(s)}: ${s.endpoints.length}`).sort();
}
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
const eventMessages = async (on?: string) =>
  (await client.list<CoreV1Event>(R.events, { namespace: ns })).items
    .filter((e) => on === undefined || e.involvedObject?.name === on)
    .map((e) => `${e.reason}: ${e.message}`);
const standby = async () => (await federated())?.metadata?.annotations?.[FEDERATION_STANDBY_ANNOTATION];
/** A headless member without ports, as a StatefulSet's DNS-only Service can be. */
const headless = (svc: V1Service): V1Service => ({
  ...svc,
  spec: { ...svc.spec, clusterIP: 'None', ports: [] },
});

const syncErrors = async () =>
  (await registry.getSingleMetric('isthmus_federation_sync_errors_total')?.get())?.values[0]?.value;

async function metric(name: string): Promise<number | undefined> {
  const m = await registry.getSingleMetric(name)?.get();
  return m?.values.find((v) => v.labels.namespace === ns && v.labels.service === 'cart')?.value;
}

describe('federation controller', () => {
  it('cart-federated carries the local pods and each remote member through the gateway', async () => {
    await fixture();
    await synced(start(), 'the federation controller');
    const all = [`${GATEWAY_POD}:20001`, `${GATEWAY_POD}:20002`, ...CART_PODS.map((p) => `${p}:8080`)].sort();
    await waitFor(async () => same(await endpoints(), all), { what: 'federated endpoints' });
    const svc = await federated();
    expect(svc?.spec?.selector).toBeUndefined();
    expect(svc?.spec?.ports?.map((p) => `${p.name}=${p.port}`)).toEqual(['http=8080']);
    expect(svc?.metadata?.annotations?.[FEDERATION_MEMBERS_ANNOTATION]).toBe('east,north,west');
    expect(await sliceSizes()).toEqual(['east: 2', 'north: 1', 'west: 1']);
    const items = await federatedSlices();
    for (const s of items) {
      expect(s.metadata?.ownerReferences).toEqual([
        expect.objectContaining({
          kind: 'Service',
          name: 'cart-federated',
          uid: svc?.metadata?.uid,
          controller: true,
        }),
      ]);
    }
    expect(await metric('isthmus_federation_members')).toBe(3);
    expect(await metric('isthmus_federation_ready_members')).toBe(3);
  });

  it('a local member with 1500 ready pods: listed in slices of at most 1000, the remote members too; a chunk no longer needed goes', async () => {
    const pods = podIPs(1500, '10.1');
    await client.create(R.services, localMember());
    for (const s of podSlices(ns, 'cart', pods, { port: 8080 })) await client.create(R.endpointSlices, s);
    await client.create(R.services, memberMirror('west'));
    await client.create(R.endpointSlices, mirrorSlice('west', 20001));
    await client.create(R.services, memberMirror('north'));
    await client.create(R.endpointSlices, mirrorSlice('north', 20002));
    await synced(start(), 'the federation controller');
    const all = [`${GATEWAY_POD}:20001`, `${GATEWAY_POD}:20002`, ...pods.map((p) => `${p}:8080`)].sort();
    await waitFor(async () => same(await endpoints(), all), { what: 'every member, 1502 endpoints' });
    expect(await sliceSizes()).toEqual(['east: 1000', 'east: 500', 'north: 1', 'west: 1']);

    await client.delete(R.endpointSlices, ns, 'cart-1');
    await waitFor(async () => same(await sliceSizes(), ['east: 750', 'north: 1', 'west: 1']), {
      what: "the local member's second slice withdrawn",
    });
  });

  it('a member mirrored in remote-discovery mode (a Link without a gateway): its remote pods, not a gateway', async () => {
    await client.create(R.services, localMember());
    await client.create(R.endpointSlices, localSlice());
    const direct = memberMirror('west');
    direct.metadata!.labels![REMOTE_DISCOVERY_LABEL] = 'west';
    await client.create(R.services, direct);
    await client.create(
      R.endpointSlices,
      slice(ns, 'cart-west', { mirror: true, port: 8080, name: 'cart-west', ready: ['10.2.0.9'] }),
    );
    await synced(start(), 'the federation controller');
    const all = ['10.2.0.9:8080', ...CART_PODS.map((p) => `${p}:8080`)].sort();
    await waitFor(async () => same(await endpoints(), all), { what: 'local and remote pods' });
    expect((await federated())?.metadata?.annotations?.[FEDERATION_MEMBERS_ANNOTATION]).toBe('east,west');
  });

  it('a member ready on a port of another name serves none of it, and is not counted ready', async () => {
    await client.create(R.services, localMember());
    await client.create(R.endpointSlices, localSlice());
    await client.create(R.services, memberMirror('west'));
    await client.create(R.endpointSlices, mirrorSlice('west', 20001));
    // north exports its pods on `web`, not `http`: ready, but for no port of cart-federated.
    await client.create(R.services, {
      ...memberMirror('north'),
      spec: { ...memberMirror('north').spec, ports: [{ name: 'web', port: 8080 }] },
    });
    await client.create(
      R.endpointSlices,
      slice(ns, 'cart-north', {
        mirror: true,
        port: 20002,
        portName: 'web',
        name: 'cart-north-gw',
        ready: [GATEWAY_POD],
      }),
    );
    await synced(start(), 'the federation controller');
    const served = [`${GATEWAY_POD}:20001`, ...CART_PODS.map((p) => `${p}:8080`)].sort();
    await waitFor(async () => same(await endpoints(), served), { what: 'east and west only' });
    await controller!.idle();
    expect(await metric('isthmus_federation_members')).toBe(3);
    expect(await metric('isthmus_federation_ready_members')).toBe(2);
    expect(renderFederatedTable(await readFederatedRows(client, ns))).toContain('north (no matching port)');
  });

  it('isthmus federated says which member has no port of the same name (east unnamed 80, west http 80), not that it has no ready endpoint', async () => {
    await client.create(R.services, {
      ...localMember(),
      spec: { ...localMember().spec, ports: [{ port: 80 }] },
    });
    await client.create(R.endpointSlices, {
      ...localSlice(),
      ports: [{ name: '', port: 8080, protocol: 'TCP' }],
    });
    await client.create(R.services, {
      ...memberMirror('west'),
      spec: { ports: [{ name: 'http', port: 80 }] },
    });
    await client.create(R.endpointSlices, mirrorSlice('west', 20001));
    await synced(start(), 'the federation controller');
    const view = async () => renderFederatedTable(await readFederatedRows(client, ns)).split('\n')[1];
    await waitFor(async () => (await view())?.endsWith('east (2), west (no matching port)'), {
      what: 'west shown without a matching port',
    });
    // Renamed to match, west serves, and the annotation goes.
    await client.patch(R.services, ns, 'cart', { spec: { ports: [{ name: 'http', port: 80 }] } });
    await client.patch(R.endpointSlices, ns, 'cart-abc12', {
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    });
    await waitFor(async () => (await view())?.endsWith('east (2), west (1)'), { what: 'west serving' });
    expect(
      (await federated())?.metadata?.annotations?.[FEDERATION_NO_MATCHING_PORT_ANNOTATION],
    ).toBeUndefined();
  });

  it('an ExternalName Service labelled a member is none: it never decides the ports, and an UnsupportedServiceType Warning says so', async () => {
    // west's web is healthy with an unnamed port 80.
    await client.create(R.services, { ...memberMirror('west'), spec: { ports: [{ port: 80 }] } });
    await client.create(R.endpointSlices, mirrorSlice('west', 20001, true, ''));
    await synced(start(), 'the federation controller');
    await waitFor(async () => same(await endpoints(), [`${GATEWAY_POD}:20001`]), { what: "west's gateway" });

    await client.create(R.services, {
      metadata: { namespace: ns, name: 'cart', labels: { [FEDERATED_LABEL]: 'member' } },
      spec: { type: 'ExternalName', externalName: 'cart.example.com', ports: [{ name: 'other', port: 443 }] },
    });
    await waitFor(
      async () =>
        (await eventMessages('cart')).some((m) => m.startsWith('UnsupportedServiceType: member cart ')),
      { what: 'an UnsupportedServiceType event on cart' },
    );
    await controller!.idle();
    const svc = await federated();
    expect(svc?.spec?.ports?.map((p) => `${p.name ?? ''}=${p.port}`)).toEqual(['=80']);
    expect(svc?.metadata?.annotations?.[FEDERATION_MEMBERS_ANNOTATION]).toBe('west');
    expect(await endpoints()).toEqual([`${GATEWAY_POD}:20001`]);
    expect(renderFederatedTable(await readFederatedRows(client, ns)).split('\n')[1]).toMatch(/west \(1\)$/);
    expect(await syncErrors()).toBe(0);
  });

  describe('a namespace being deleted (a finalizer holds the local member, and so the namespace, in Terminating)', () => {
    /**
     * The controller up over the local member (held) and west, with a client that records every
     * request it makes (failing none) and a namespace informer the test can stop; then the
     * namespace deleted, and waited for until its Services are gone but cart.
     */
    async function deleteNamespace(opts: { staleNamespaceCache: boolean }) {
      const requests: string[] = [];
      const recording = new FlakyClient(sandbox.kubeconfig(), Number.POSITIVE_INFINITY, (method, path) => {
        requests.push(`${method} ${path}`);
        return false;
      });
      onTestFinished(() => recording.close());
      const namespaces = createInformer<V1Namespace>(client, R.namespaces);
      namespaces.start();
      onTestFinished(() => namespaces.stop());
      const held = ns;
      onTestFinished(async () => {
        await client
          .patch(R.services, held, 'cart', { metadata: { finalizers: null } })
          .catch(() => undefined);
      });
      await client.create(R.services, {
        ...localMember(),
        metadata: { ...localMember().metadata, finalizers: [HOLD] },
      });
      await client.create(R.endpointSlices, localSlice());
      await client.create(R.services, memberMirror('west'));
      await client.create(R.endpointSlices, mirrorSlice('west', 20001));
      await synced(start(recording, namespaces), 'the federation controller');
      await waitFor(async () => (await endpoints()).length === 3, { what: 'three endpoints' });
      // A stopped informer keeps what it saw: the namespace, usable.
      if (opts.staleNamespaceCache) await namespaces.stop();
      const before = requests.length;

      await client.delete(R.namespaces, undefined, ns);
      await waitFor(
        () =>
          (opts.staleNamespaceCache ||
            namespaces.get(undefined, ns)?.metadata?.deletionTimestamp !== undefined) &&
          informers.services.get(ns, 'cart-federated') === undefined &&
          informers.services.get(ns, 'cart-west') === undefined,
        { what: 'the namespace terminating, cart-federated and the mirror deleted with it' },
      );
      await controller!.idle();
      /** The controller's creates since `from` (an index into its requests). */
      const posts = (from: number) => requests.slice(from).filter((r) => r.startsWith('POST'));
      return { posts, sinceDeletion: before, now: () => requests.length };
    }

    it('is as one missing: no create in it, no sync error, and cart-federated is back with the namespace', async () => {
      const { posts, now } = await deleteNamespace({ staleNamespaceCache: false });
      // cart is still a member, held by its finalizer: an edit of it is a reconcile. (A create
      // before the controller's cache saw the deletion is refused, and no error: the test below.)
      const seen = now();
      await client.patch(R.services, ns, 'cart', { metadata: { annotations: { team: 'shop' } } });
      await waitFor(() => informers.services.get(ns, 'cart')?.metadata?.annotations?.team === 'shop', {
        what: 'the edit of cart seen',
      });
      await controller!.idle();
      expect(posts(seen)).toEqual([]);
      expect(await syncErrors()).toBe(0);
      expect(await metric('isthmus_federation_members')).toBeUndefined();

      // The namespace goes, and comes back with its member.
      await client.patch(R.services, ns, 'cart', { metadata: { finalizers: null } });
      await waitFor(async () => (await client.get(R.namespaces, undefined, ns)) === undefined, {
        what: 'the namespace gone',
      });
      await client.create(R.namespaces, { metadata: { name: ns } });
      await client.create(R.services, localMember());
      await client.create(R.endpointSlices, localSlice());
      await waitFor(async () => same(await endpoints(), CART_PODS.map((p) => `${p}:8080`).sort()), {
        what: 'cart-federated with the local pods again',
      });
      expect(await syncErrors()).toBe(0);
    });

    it('a create the API server refuses before the namespace cache saw the deletion is no sync error either', async () => {
      const { posts, sinceDeletion } = await deleteNamespace({ staleNamespaceCache: true });
      // The controller tried (its cache says the namespace is there), was refused, and asked the API server.
      expect(posts(sinceDeletion)).toContain(`POST /api/v1/namespaces/${ns}/services`);
      expect(await syncErrors()).toBe(0);
      expect(await metric('isthmus_federation_members')).toBeUndefined();
    });
  });

  it('its API server gone mid-watch after sync and back: a member that lost its ready endpoints meanwhile is dropped, nothing lost', async () => {
    await fixture();
    // The controller reaches the API server through a relay the test cuts: for the controller the
    // server is down (every connection reset), while the test writes on, as the mirror controller
    // would. (An offline sandbox would take every writer with it.)
    const relay = await TcpRelay.start(new URL(sandbox.url));
    onTestFinished(() => relay.close());
    const relayed = KubeClient.fromKubeconfigString(
      sandbox.kubeconfig().replace(sandbox.url, relay.via(sandbox.url)),
    );
    onTestFinished(() => relayed.close());
    await synced(start(relayed, undefined, relayed), 'the federation controller');
    const all = [`${GATEWAY_POD}:20001`, `${GATEWAY_POD}:20002`, ...CART_PODS.map((p) => `${p}:8080`)].sort();
    await waitFor(async () => same(await endpoints(), all), { what: 'every member federated' });
    const connected = { services: true, slices: true };
    informers.services.onHealth((h) => {
      connected.services = h.connected;
    });
    informers.slices.onHealth((h) => {
      connected.slices = h.connected;
    });

    relay.cut();
    await waitFor(() => !connected.services && !connected.slices, {
      what: "the controller's watches cut off",
    });
    // While it cannot see: north's gateway endpoint stops being ready, and one local pod goes.
    await client.patch(R.endpointSlices, ns, 'cart-north-gw', {
      endpoints: [{ addresses: [GATEWAY_POD], conditions: { ready: false } }],
    });
    await client.patch(R.endpointSlices, ns, 'cart-abc12', {
      endpoints: [{ addresses: [CART_PODS[0]!], conditions: { ready: true } }],
    });
    expect(await endpoints()).toEqual(all);
    relay.restore();

    // Both changes acted on once it is back.
    await waitFor(
      async () => same(await endpoints(), [`${CART_PODS[0]}:8080`, `${GATEWAY_POD}:20001`].sort()),
      { timeoutMs: 20_000, what: 'north withdrawn and the local pod gone' },
    );
    await waitFor(async () => (await metric('isthmus_federation_ready_members')) === 2, {
      what: 'two ready members',
    });
    // And both watches back (one may still be in its backoff when the other brought the change).
    await waitFor(() => connected.services && connected.slices, {
      timeoutMs: 20_000,
      what: "the controller's watches back",
    });
  });

  it('follows the members: an unready remote drops out, a local Service that leaves is removed, the last one takes the Service with it', async () => {
    await fixture();
    await synced(start(), 'the federation controller');
    await waitFor(async () => (await endpoints()).length === 4, { what: 'four endpoints' });

    await client.patch(R.endpointSlices, ns, 'cart-north-gw', {
      endpoints: [{ addresses: [GATEWAY_POD], conditions: { ready: false } }],
    });
    await waitFor(async () => !(await endpoints()).includes(`${GATEWAY_POD}:20002`), {
      what: 'north withdrawn',
    });
    expect(await metric('isthmus_federation_ready_members')).toBe(2);

    await client.patch(R.services, ns, 'cart', { metadata: { labels: { [FEDERATED_LABEL]: null } } });
    await waitFor(async () => same(await endpoints(), [`${GATEWAY_POD}:20001`]), {
      what: 'local member withdrawn',
    });
    await waitFor(
      async () =>
        (await federated())?.metadata?.annotations?.[FEDERATION_MEMBERS_ANNOTATION] === 'north,west',
      { what: 'members annotation without east' },
    );

    await client.delete(R.services, ns, 'cart-west');
    await client.delete(R.services, ns, 'cart-north');
    await waitFor(async () => (await federated()) === undefined, { what: 'cart-federated deleted' });
    await waitFor(async () => (await endpoints()).length === 0, { what: 'its slices gone' });
    expect(await metric('isthmus_federation_members')).toBeUndefined();
  });

  it('affinity local on the local member: its pods alone while one is ready, the remote members then', async () => {
    await fixture();
    await client.patch(R.services, ns, 'cart', {
      metadata: { annotations: { [FEDERATION_AFFINITY_ANNOTATION]: 'local' } },
    });
    await synced(start(), 'the federation controller');
    const local = CART_PODS.map((p) => `${p}:8080`).sort();
    const remote = [`${GATEWAY_POD}:20001`, `${GATEWAY_POD}:20002`];
    await waitFor(async () => same(await endpoints(), local), { what: 'the local pods alone' });
    expect((await federated())?.metadata?.annotations?.[FEDERATION_AFFINITY_ANNOTATION]).toBe('local');
    await waitFor(async () => (await standby()) === 'north,west', { what: 'the remote members on standby' });
    expect(await metric('isthmus_federation_ready_members')).toBe(3);

    await client.patch(R.endpointSlices, ns, 'cart-abc12', {
      endpoints: CART_PODS.map((a) => ({ addresses: [a], conditions: { ready: false } })),
    });
    await waitFor(async () => same(await endpoints(), remote), {
      what: 'the remote members once no local pod is ready',
    });
    await waitFor(async () => (await standby()) === undefined, { what: 'nobody on standby' });
    await client.patch(R.endpointSlices, ns, 'cart-abc12', {
      endpoints: CART_PODS.map((a) => ({ addresses: [a], conditions: { ready: true } })),
    });
    await waitFor(async () => same(await endpoints(), local), { what: 'back to the local pods' });

    // Dropping the annotation lists every member again and takes it off cart-federated.
    await client.patch(R.services, ns, 'cart', {
      metadata: { annotations: { [FEDERATION_AFFINITY_ANNOTATION]: null } },
    });
    await waitFor(async () => same(await endpoints(), [...remote, ...local].sort()), {
      what: 'all members again',
    });
    await waitFor(
      async () => (await federated())?.metadata?.annotations?.[FEDERATION_AFFINITY_ANNOTATION] === undefined,
      { what: 'the affinity annotation gone from cart-federated' },
    );
    expect(await standby()).toBeUndefined();
  });

  it('affinity local, every local pod terminating: isthmus federated says east has no ready endpoint, not standby', async () => {
    await fixture();
    await client.patch(R.services, ns, 'cart', {
      metadata: { annotations: { [FEDERATION_AFFINITY_ANNOTATION]: 'local' } },
    });
    await synced(start(), 'the federation controller');
    const view = async () => renderFederatedTable(await readFederatedRows(client, ns)).split('\n')[1];
    await waitFor(async () => (await view())?.endsWith('east (2), north (standby), west (standby)'), {
      what: 'east serving, the remote members on standby',
    });
    // A rollout: the old pods terminate (serving still), no new one is ready yet.
    await client.patch(R.endpointSlices, ns, 'cart-abc12', {
      endpoints: CART_PODS.map((a) => ({
        addresses: [a],
        conditions: { ready: false, serving: true, terminating: true },
      })),
    });
    await waitFor(async () => (await view())?.endsWith('east (no ready endpoint), north (1), west (1)'), {
      what: 'the remote members serving, east shown without a ready endpoint',
    });
  });

  describe('a headless local member without ports', () => {
    it('the remote members give cart-federated its ports; a NoPorts Warning on cart, no retries', async () => {
      await client.create(R.services, headless(localMember()));
      await client.create(R.services, memberMirror('west'));
      await client.create(R.endpointSlices, mirrorSlice('west', 20001));
      await synced(start(), 'the federation controller');
      await waitFor(async () => same(await endpoints(), [`${GATEWAY_POD}:20001`]), {
        what: "west's gateway",
      });
      expect((await federated())?.spec?.ports?.map((p) => `${p.name}=${p.port}`)).toEqual(['http=8080']);
      await waitFor(
        async () => (await eventMessages('cart')).some((m) => m.startsWith('NoPorts: member cart ')),
        {
          what: 'a NoPorts event on cart',
        },
      );
      await controller!.idle();
      expect(await registry.getSingleMetric('isthmus_federation_sync_errors_total')?.get()).toMatchObject({
        values: [{ value: 0 }],
      });
    });

    it('the only member: no cart-federated and one NoPorts Warning until it gets a port', async () => {
      await client.create(R.services, headless(localMember()));
      await synced(start(), 'the federation controller');
      await waitFor(async () => (await eventMessages('cart')).some((m) => m.startsWith('NoPorts:')), {
        what: 'a NoPorts event on cart',
      });
      // A change that gives it no port is no news: still the one event, written once.
      await client.patch(R.services, ns, 'cart', { metadata: { annotations: { team: 'shop' } } });
      // The controller's informer has the edit: its handlers ran as it was cached, so the key is queued.
      await waitFor(() => informers.services.get(ns, 'cart')?.metadata?.annotations?.team === 'shop', {
        what: "the edit in the controller's cache",
      });
      await controller!.idle();
      expect(await federated()).toBeUndefined();
      const told = (await client.list<CoreV1Event>(R.events, { namespace: ns })).items;
      expect(told.map((e) => [e.involvedObject?.name, e.reason, e.count])).toEqual([['cart', 'NoPorts', 1]]);
      expect(await registry.getSingleMetric('isthmus_federation_sync_errors_total')?.get()).toMatchObject({
        values: [{ value: 0 }],
      });

      await client.patch(R.services, ns, 'cart', { spec: { ports: [{ name: 'http', port: 8080 }] } });
      await client.create(R.endpointSlices, localSlice());
      await waitFor(async () => (await endpoints()).length === 2, {
        what: 'cart-federated with the local pods',
      });
    });
  });

  it('an edit of the only member keeps cart-federated: the member index never misses it mid-update', async () => {
    await client.create(R.services, localMember());
    await client.create(R.endpointSlices, localSlice());
    await synced(start(), 'the federation controller');
    await waitFor(async () => (await endpoints()).length === 2, { what: 'the local pods' });
    const before = (await federated())?.metadata?.uid;
    await client.patch(R.services, ns, 'cart', { metadata: { annotations: { team: 'shop' } } });
    // The controller's informer has the edit: its handlers ran as it was cached, so the key is queued.
    await waitFor(() => informers.services.get(ns, 'cart')?.metadata?.annotations?.team === 'shop', {
      what: "the edit in the controller's cache",
    });
    await controller!.idle();
    expect((await federated())?.metadata?.uid).toBe(before);
  });

  it('stopped before its namespace informer synced (leadership lost at once): synced rejects, nothing unhandled', async () => {
    const c = start();
    await c.stop();
    controller = undefined;
    await expect(c.synced).rejects.toThrow(/informer stopped before sync/);
  });

  it('puts back a federated Service deleted by hand', async () => {
    await fixture();
    await synced(start(), 'the federation controller');
    await waitFor(async () => (await endpoints()).length === 4, { what: 'four endpoints' });
    const before = (await federated())?.metadata?.uid;
    await client.delete(R.services, ns, 'cart-federated');
    await waitFor(
      async () => {
        const uid = (await federated())?.metadata?.uid;
        return uid !== undefined && uid !== before && (await endpoints()).length === 4;
      },
      { what: 'recreated with its endpoints' },
    );
  });

  it('counts failed syncs in isthmus_federation_sync_errors_total and retries them into the Service', async () => {
    await fixture();
    // The controller's first two writes of the federated Service fail, as an API server that is
    // briefly unavailable refuses them.
    const flaky = new FlakyClient(
      sandbox.kubeconfig(),
      2,
      (method, path) => method !== 'GET' && path.includes('/services'),
    );
    onTestFinished(() => flaky.close()); // after afterEach has stopped the controller using it
    await synced(start(flaky), 'the federation controller');
    await waitFor(async () => (await endpoints()).length === 4, { what: 'four endpoints after the retries' });
    expect(flaky.failuresLeft).toBe(0);
    expect(await registry.getSingleMetric('isthmus_federation_sync_errors_total')?.get()).toMatchObject({
      values: [{ value: 2 }],
    });
  });

  it("leaves a stranger's cart-federated alone and says why", async () => {
    const stranger: V1Service = {
      ...service(ns, 'cart-federated', [{ name: 'web', port: 80 }], { app: 'other' }),
    };
    await client.create(R.services, stranger);
    await fixture();
    await synced(start(), 'the federation controller');
    await waitFor(async () => (await eventMessages()).some((m) => m.startsWith('NotOwned:')), {
      what: 'a NotOwned event',
    });
    const svc = await federated();
    expect(svc?.spec?.selector).toEqual({ app: 'other' });
    expect(svc?.spec?.ports?.map((p) => p.port)).toEqual([80]);
    expect(await endpoints()).toEqual([]);
  });

  it("writes its own cart-federated once the stranger's that held the name is deleted", async () => {
    await client.create(R.services, {
      ...service(ns, 'cart-federated', [{ name: 'web', port: 80 }], { app: 'other' }),
    });
    await fixture();
    await synced(start(), 'the federation controller');
    await waitFor(async () => (await eventMessages()).some((m) => m.startsWith('NotOwned:')), {
      what: 'a NotOwned event',
    });
    const stranger = (await federated())?.metadata?.uid;
    // Nothing of the federation changes after this: only the deletion can queue it.
    await client.delete(R.services, ns, 'cart-federated');
    await waitFor(
      async () => {
        const svc = await federated();
        return svc?.metadata?.uid !== stranger && svc?.metadata?.labels?.[FEDERATED_SERVICE_LABEL] === 'true';
      },
      { what: "Isthmus's own cart-federated" },
    );
    await waitFor(async () => (await endpoints()).length === 4, { what: 'four endpoints' });
  });
});

/**
 * Scenario fixture for the mirror controller (test-only): a local sandbox cluster and remote
 * sandbox clusters, a read-only remote token in a Link credentials Secret, a stub gateway admin
 * `/probe` server whose answer the test flips, and a running controller.
 */

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { Registry } from 'prom-client';
import { afterEach, expect } from 'vitest';
import { controllerLogger } from '../cli/controller/run-controller-process.js';
import { gatewayAddressesOf } from '../gateway/gateway-failover.js';
import { probeRefusal } from '../gateway/probe-targets.js';
import { hostPort, parseHostPort } from '../host-port.js';
import { updateWithRetry } from '../kube/apply.js';
import { KubeClient, type KubeClientOptions } from '../kube/client.js';
import { createInformer } from '../kube/informer.js';
import {
  EGRESS_PORTS_ANNOTATION,
  GATEWAY_SERVICE_NAME,
  INSTALL_CLUSTER_NAME_LABEL,
  REMOTE_GATEWAY_ANNOTATION,
  REMOTE_KUBECONFIG_KEY,
  REMOTE_KUBECONFIG_SECRET_TYPE,
  REMOTE_RESOURCE_VERSION_ANNOTATION,
  SERVICE_NAME_LABEL,
  SYSTEM_NAMESPACE,
} from '../kube/keys.js';
import { R } from '../kube/resources.js';
import { synced } from '../kube/test-support.js';
import type { CoreV1Event, Link, V1EndpointSlice, V1Namespace, V1Secret, V1Service } from '../kube/types.js';
import { type Sandbox, startSandbox } from '../sandbox/index.js';
import { type ControllerConfig, type RunningController, runController } from './controller.js';
import { Leadership } from './shared.js';
import { linkObject, remoteService } from './test-builders.js';

import { waitFor } from './test-wait.js';

export { waitFor };

/**
 * A stub of the local gateway's admin /probe: alive per remote gateway address, flipped by tests.
 * Like the gateway, it dials only a gateway a Link names (of the clusters in `links`, when set),
 * waiting up to the probe's timeout for a Link to name it, else answering 403; and where nothing
 * answers, it tries the other addresses the Link names for that gateway (gateway-failover.ts): the
 * one asked about first, then the others in the Link's order (`seen` lists each one tried),
 * answering alive with `via` at the first alive.
 */
export class ProbeStub {
  readonly dead = new Set<string>();
  readonly seen: string[] = [];
  /** Refused probes (no Link named the address in time), as `<host>:<port>`. */
  readonly refused: string[] = [];
  links: (() => Promise<Link[]>) | undefined;
  private server: Server | undefined;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      // No egress here: `/routes` is unknown, so the controller lists every egress port at once
      // (gateway-listening.ts holds nothing back for an admin that does not answer).
      if (url.pathname !== '/probe') {
        res.writeHead(404).end();
        return;
      }
      void this.answer(url.searchParams).then(({ status, body }) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  private async answer(params: URLSearchParams): Promise<{ status: number; body: unknown }> {
    const gateway = params.get('gateway') ?? '';
    const refusal = await this.refusal(
      gateway,
      params.get('cluster') ?? undefined,
      Number(params.get('timeoutMs')),
    );
    if (refusal !== undefined) {
      this.refused.push(gateway);
      return { status: 403, body: { alive: false, refused: true, error: refusal } };
    }
    const cluster = params.get('cluster') ?? undefined;
    const target = parseHostPort(gateway)!;
    const addresses =
      this.links === undefined || cluster === undefined
        ? [target]
        : gatewayAddressesOf(await this.links().catch(() => []), target, cluster);
    // The address asked about first, then the others in the Link's order (gateway-failover.ts walkOrder).
    const others = addresses.map((a) => hostPort(a.host, a.port)).filter((a) => a !== gateway);
    for (const address of [gateway, ...others]) {
      this.seen.push(address);
      if (this.dead.has(address) || this.dead.has('*')) continue;
      return {
        status: 200,
        body: { alive: true, latencyMs: 1, ...(address === gateway ? {} : { via: address }) },
      };
    }
    return { status: 503, body: { alive: false, error: 'stub: gateway dead' } };
  }

  private async refusal(
    gateway: string,
    cluster: string | undefined,
    timeoutMs: number,
  ): Promise<string | undefined> {
    const target = parseHostPort(gateway);
    if (target === null) return `gateway "${gateway}" is not <host>:<port>`;
    if (this.links === undefined) return undefined;
    const deadline = Date.now() + (timeoutMs || 2_000);
    for (;;) {
      const reason = probeRefusal(await this.links().catch(() => []), target, cluster);
      if (reason === undefined || Date.now() >= deadline) return reason;
      await delay(20);
    }
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (s) await new Promise((r) => s.close(r));
  }
}

export interface Cluster {
  sandbox: Sandbox;
  client: KubeClient;
}

export interface ClusterOptions {
  watchWindow?: number;
  tls?: boolean;
  allowLoopbackEndpoints?: boolean;
  /** The sandbox's service CIDR(s): two make a dual-stack cluster whose default family is the first. */
  serviceCidr?: string;
}

export async function startCluster(name: string, opts: ClusterOptions = {}): Promise<Cluster> {
  // Plain HTTP: minting serving certificates (RSA in node-forge) dominated scenario time, and TLS
  // to the API server is src/kube's and src/sandbox's to test, not the mirror's.
  const sandbox = await startSandbox({
    name,
    tls: opts.tls ?? false,
    bookmarkIntervalMs: 200,
    ...(opts.watchWindow ? { watchWindow: opts.watchWindow } : {}),
    ...(opts.allowLoopbackEndpoints ? { allowLoopbackEndpoints: true } : {}),
    ...(opts.serviceCidr ? { serviceCidr: opts.serviceCidr } : {}),
  });
  const client = KubeClient.fromKubeconfigString(sandbox.kubeconfig());
  await client.create(R.namespaces, { metadata: { name: SYSTEM_NAMESPACE } });
  return { sandbox, client };
}

export async function closeCluster(c: Cluster | undefined): Promise<void> {
  if (!c) return;
  c.client.close();
  await c.sandbox.close();
}

/** Links `local` to `remote` with a read-only token (what `isthmus link` would write). */
export async function link(
  local: Cluster,
  remote: Cluster,
  cluster: string,
  spec: Partial<Link['spec']> = {},
) {
  const secret = await credentialsSecret(local, remote, `cluster-credentials-${cluster}`);
  return local.client.create<Link>(
    R.links,
    linkObject(cluster, { clusterCredentialsSecret: secret, ...spec }),
  );
}

/** What the install's isthmus-remote-access ClusterRole lets a linking cluster read. */
const REMOTE_READER_RESOURCES = ['services', 'endpointslices', 'namespaces'];

/** A token `remote` accepts for the read-only account, allowed to read `resources`. */
export function addReaderToken(remote: Cluster, token: string, resources = REMOTE_READER_RESOURCES): void {
  remote.sandbox.addToken(token, {
    username: 'remote-reader',
    rules: [{ verbs: ['get', 'list', 'watch'], resources }],
  });
}

/** A `mirror.linkerd.io/remote-kubeconfig` Secret holding a read-only kubeconfig of `remote`. */
export async function credentialsSecret(local: Cluster, remote: Cluster, secret: string): Promise<string> {
  const token = `reader-${secret}-${Math.random().toString(36).slice(2)}`;
  addReaderToken(remote, token);
  await local.client.create(R.secrets, {
    metadata: { name: secret, namespace: SYSTEM_NAMESPACE },
    type: REMOTE_KUBECONFIG_SECRET_TYPE,
    stringData: { [REMOTE_KUBECONFIG_KEY]: remote.sandbox.kubeconfig({ token, user: 'remote-reader' }) },
  });
  return secret;
}

/** Rewrites a credentials Secret in place to hold `token` for `remote`, as a re-link or a hand edit does. */
export async function setCredentialsToken(
  local: Cluster,
  remote: Cluster,
  secret: string,
  token: string,
): Promise<void> {
  await updateWithRetry<V1Secret>(local.client, R.secrets, SYSTEM_NAMESPACE, secret, (s) => ({
    ...s,
    data: undefined,
    stringData: { [REMOTE_KUBECONFIG_KEY]: remote.sandbox.kubeconfig({ token, user: 'remote-reader' }) },
  }));
}

/** A remote exported Service with an EndpointSlice of `ready` ready pods (10.x addresses). */
export async function exportService(
  remote: Cluster,
  name: string,
  opts: Parameters<typeof remoteService>[1] & { ready?: number; hostnames?: string[] } = {},
): Promise<V1Service> {
  const svc = remoteService(name, opts);
  delete svc.metadata!.resourceVersion;
  const namespace = svc.metadata!.namespace!;
  if (!(await remote.client.get(R.namespaces, undefined, namespace))) {
    await remote.client.create(R.namespaces, { metadata: { name: namespace } });
  }
  const created = await remote.client.create(R.services, svc);
  await setRemoteEndpoints(remote, namespace, name, opts.ready ?? 1, opts.hostnames);
  return created;
}

export async function setRemoteEndpoints(
  remote: Cluster,
  namespace: string,
  name: string,
  ready: number,
  hostnames?: string[],
): Promise<void> {
  const count = hostnames?.length ?? Math.max(ready, 1);
  const slice: V1EndpointSlice = {
    metadata: { name: `${name}-abc`, namespace, labels: { [SERVICE_NAME_LABEL]: name } },
    addressType: 'IPv4',
    endpoints: Array.from({ length: count }, (_, i) => ({
      addresses: [`10.244.1.${10 + i}`],
      conditions: { ready: i < ready },
      ...(hostnames?.[i] ? { hostname: hostnames[i] } : {}),
    })),
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  };
  const existing = await remote.client.get<V1EndpointSlice>(
    R.endpointSlices,
    namespace,
    slice.metadata!.name!,
  );
  if (existing) await remote.client.replace(R.endpointSlices, { ...existing, endpoints: slice.endpoints });
  else await remote.client.create(R.endpointSlices, slice);
}

/** The remote gateway's LoadBalancer Service, with the given ingress IPs. */
export async function setRemoteGatewayLB(remote: Cluster, ips: string[]): Promise<void> {
  let svc = await remote.client.get<V1Service>(R.services, SYSTEM_NAMESPACE, GATEWAY_SERVICE_NAME);
  if (!svc) {
    svc = await remote.client.create<V1Service>(R.services, {
      metadata: { name: GATEWAY_SERVICE_NAME, namespace: SYSTEM_NAMESPACE },
      spec: { type: 'LoadBalancer', ports: [{ name: 'ingress', port: 4143, targetPort: 4143 }] },
    });
  }
  await remote.client.replaceStatus(R.services, {
    ...svc,
    status: { loadBalancer: { ingress: ips.map((ip) => ({ ip })) } },
  });
}

/** Controller settings, and `clientOptions` for its client (e.g. no rate limit, for a large sync). */
export type ControllerOverrides = Partial<ControllerConfig> & { clientOptions?: KubeClientOptions };

export function startController(local: Cluster, probe: ProbeStub, overrides: ControllerOverrides = {}) {
  const { clientOptions, ...over } = overrides;
  const client = KubeClient.fromKubeconfigString(local.sandbox.kubeconfig(), undefined, clientOptions);
  const ctl: RunningController = runController({
    client,
    gatewayAdminUrl: probe.url,
    gatewayEndpoints: ['10.0.0.5'],
    registry: new Registry(),
    leadership: new Leadership(true),
    remoteBackoff: { initialMs: 50, maxMs: 300 },
    queueBackoff: { baseMs: 20, maxMs: 300 },
    resolveIntervalMs: 60_000,
    ...over,
  });
  return {
    ctl,
    client,
    async stop() {
      await ctl.stop();
      client.close();
    },
  };
}

export async function getService(c: Cluster, namespace: string, name: string) {
  return c.client.get<V1Service>(R.services, namespace, name);
}

export async function getSlice(c: Cluster, namespace: string, name: string) {
  return c.client.get<V1EndpointSlice>(R.endpointSlices, namespace, name);
}

export async function getLink(c: Cluster, name: string) {
  return c.client.get<Link>(R.links, SYSTEM_NAMESPACE, name);
}

/**
 * Edits a Link's spec as a user's tool would: read, change, write, and again on 409 Conflict (the
 * controller writes the Link's status and finalizer meanwhile).
 */
export async function editLinkSpec(c: Cluster, name: string, change: (spec: Link['spec']) => Link['spec']) {
  await updateWithRetry<Link>(c.client, R.links, SYSTEM_NAMESPACE, name, (l) => ({
    ...l,
    spec: change(l.spec),
  }));
}

/** The label `isthmus install --cluster-name` writes on the install namespace. */
export async function installedAs(c: Cluster, name: string): Promise<void> {
  await updateWithRetry<V1Namespace>(c.client, R.namespaces, undefined, SYSTEM_NAMESPACE, (ns) => ({
    ...ns,
    metadata: { ...ns.metadata, labels: { ...ns.metadata?.labels, [INSTALL_CLUSTER_NAME_LABEL]: name } },
  }));
}

/** What of a mirror must not change: the Service itself, its cluster IP, where and how it is routed. */
export const mirrorIdentityOf = (svc: V1Service | undefined) => ({
  uid: svc?.metadata?.uid,
  clusterIP: svc?.spec?.clusterIP,
  gateway: svc?.metadata?.annotations?.[REMOTE_GATEWAY_ANNOTATION],
  egress: svc?.metadata?.annotations?.[EGRESS_PORTS_ANNOTATION],
});

/** Waits until the Link's Ready condition has `reason`, and returns the Link then. */
export async function linkReadyReason(c: Cluster, name: string, reason: string): Promise<Link> {
  return waitFor(
    async () => {
      const l = await getLink(c, name);
      return condition(l, 'Ready')?.reason === reason ? l : undefined;
    },
    { what: `Link ${name} Ready reason ${reason}` },
  );
}

export function condition(l: Link | undefined, type: string) {
  return l?.status?.conditions?.find((c) => c.type === type);
}

/** A test's world: clusters by name, the probe stub, controllers; `close()` tears all down. */
export class World {
  readonly clusters = new Map<string, Cluster>();
  readonly probe = new ProbeStub();
  private readonly controllers: { stop(): Promise<void> }[] = [];

  static async start(
    names: string[],
    opts: Pick<ClusterOptions, 'watchWindow' | 'serviceCidr'> = {},
  ): Promise<World> {
    const w = new World();
    await w.probe.start();
    const started = await Promise.all(names.map((n) => startCluster(n, opts)));
    for (const [i, n] of names.entries()) w.clusters.set(n, started[i]!);
    // Every cluster's controller shares the one stub: a Link in any of them names a gateway.
    w.probe.links = async () => {
      const lists = [...w.clusters.values()].map((c) =>
        c.client.list<Link>(R.links, { namespace: SYSTEM_NAMESPACE }),
      );
      return (await Promise.all(lists)).flatMap((l) => l.items);
    };
    return w;
  }

  c(name: string): Cluster {
    const c = this.clusters.get(name);
    if (!c) throw new Error(`no cluster ${name}`);
    return c;
  }

  controller(local: string, over: ControllerOverrides = {}) {
    const ctl = startController(this.c(local), this.probe, over);
    this.controllers.push(ctl);
    return ctl;
  }

  async close(): Promise<void> {
    await Promise.all(this.controllers.splice(0).map((c) => c.stop()));
    await Promise.all([...this.clusters.values()].map((c) => closeCluster(c)));
    await this.probe.close();
  }
}

/** Starts one World per test and closes it after the test (for scenario files). */
export function worldPerTest(): (...args: Parameters<typeof World.start>) => Promise<World> {
  let world: World | undefined;
  afterEach(async () => {
    await world?.close();
    world = undefined;
  });
  return async (...args) => {
    world = await World.start(...args);
    return world;
  };
}

/** Waits until the mirror's slice advertises `ready` for its endpoints. */
export async function waitReady(
  local: Cluster,
  namespace: string,
  name: string,
  ready = true,
  timeoutMs = 10_000,
) {
  return waitFor(
    async () => {
      const s = await getSlice(local, namespace, name);
      const eps = s?.endpoints ?? [];
      return eps.length > 0 && eps.every((e) => e.conditions?.ready === ready) ? s : undefined;
    },
    { timeoutMs, what: `${namespace}/${name} ready=${ready}` },
  );
}

/**
 * West's `service` exported (one ready endpoint) and linked from east with `spec`, east's controller
 * started, and the mirror `<service>-west` ready: the start of most two-cluster scenarios.
 */
export async function eastMirrorsWest(world: World, service: string, spec: Partial<Link['spec']> = {}) {
  const [east, west] = [world.c('east'), world.c('west')];
  await exportService(west, service, { ready: 1 });
  await link(east, west, 'west', spec);
  const { ctl } = world.controller('east');
  await waitReady(east, 'default', `${service}-west`);
  return { east, west, ctl };
}

/** The remote gateway (`host:port`) the mirror Service `namespace/name` of `local` leads to. */
export async function remoteGatewayOf(local: Cluster, namespace: string, name: string) {
  return (await getService(local, namespace, name))?.metadata?.annotations?.[REMOTE_GATEWAY_ANNOTATION];
}

/** Our mirror Services of one remote cluster in the local cluster. */
export async function mirrorsOf(local: Cluster, cluster: string): Promise<V1Service[]> {
  const list = await local.client.list<V1Service>(R.services, {
    labelSelector: `mirror.linkerd.io/cluster-name=${cluster}`,
  });
  return list.items;
}

/** The mirrors of `cluster` in `local`, by name, with what must not change of each (identity, remote version). */
export async function mirrorStates(local: Cluster, cluster: string) {
  const mirrors = await mirrorsOf(local, cluster);
  return Object.fromEntries(
    mirrors.map((m) => [
      m.metadata?.name,
      { ...mirrorIdentityOf(m), version: m.metadata?.annotations?.[REMOTE_RESOURCE_VERSION_ANNOTATION] },
    ]),
  );
}

/** Waits until `remote` has served `n` more requests (the controller asked it again). */
export async function askedAgain(remote: Sandbox, n: number): Promise<void> {
  const from = remote.stats().requests;
  await waitFor(() => remote.stats().requests >= from + n, { what: `${n} more requests to ${remote.name}` });
}

/** One metric sample's value from a prom-client registry. */
export async function metricValue(registry: Registry, name: string, labels: Record<string, string> = {}) {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  const sample = (metric?.values ?? []).find((v) =>
    Object.entries(labels).every(([k, val]) => String((v.labels as Record<string, unknown>)[k]) === val),
  );
  return sample?.value;
}

/**
 * Every event of one local Service as the API's watch reports it (`<type> <uid>` in `seen`, the
 * object itself in `objects`), from the moment this resolves: to show that something never happened
 * in between. `current()` is the watch's view, to wait until it has caught up with a state read directly.
 */
export async function recordService(local: Cluster, namespace: string, name: string) {
  const informer = createInformer<V1Service>(local.client, R.services, {
    namespace,
    fieldSelector: `metadata.name=${name}`,
  });
  const seen: string[] = [];
  const objects: V1Service[] = [];
  informer.onEvent((e) => {
    seen.push(`${e.type} ${e.object.metadata?.uid}`);
    objects.push(e.object);
  });
  informer.start();
  await synced(informer, `the informer of Service ${namespace}/${name}`);
  return { seen, objects, current: () => informer.get(namespace, name), stop: () => informer.stop() };
}

/**
 * East's mirrors of west as they are now, and a record of every event of podinfo-west from now on
 * (stopped by one of `cleanups`): for tests where neither may change.
 */
export async function recordWestMirrors(east: Cluster, cleanups: Array<() => unknown>) {
  const before = await mirrorStates(east, 'west');
  const recorded = await recordService(east, 'default', 'podinfo-west');
  cleanups.push(() => recorded.stop());
  return { before, recorded, seen: [...recorded.seen] };
}

/**
 * The Link to west refused with `reason`, as its Ready and RemoteAPIAvailable conditions, a Warning
 * Event and the metric say it (Ready's message `says`, or matching it); returns the message.
 */
export async function expectWestRefused(
  east: Cluster,
  registry: Registry,
  reason: string,
  says: string | RegExp,
): Promise<string> {
  const refused = await linkReadyReason(east, 'west', reason);
  const message = condition(refused, 'Ready')?.message ?? '';
  if (typeof says === 'string') expect(message).toBe(says);
  else expect(message).toMatch(says);
  expect(condition(refused, 'RemoteAPIAvailable')).toMatchObject({ status: 'False', reason, message });
  await waitFor(
    async () => (await metricValue(registry, 'isthmus_remote_api_up', { target_cluster_name: 'west' })) === 0,
    { what: 'isthmus_remote_api_up 0' },
  );
  await waitFor(
    async () => {
      const events = await east.client.list<CoreV1Event>(R.events, { namespace: SYSTEM_NAMESPACE });
      return events.items.some((e) => e.type === 'Warning' && e.reason === reason && e.message === message);
    },
    { what: `a ${reason} Warning Event` },
  );
  return message;
}

/** The controller's own logger (its base fields included), writing raw JSON lines to `lines`. */
export function capturedLog(cluster: string) {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  return { log: controllerLogger('debug', cluster, sink), lines };
}

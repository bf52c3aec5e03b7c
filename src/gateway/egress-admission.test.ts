/**
 * The egress serves only admitted mirror routes, end to end over real TLS and sockets: a tenant's
 * forged "mirror" neither takes a real mirror's egress port nor makes the gateway dial an address
 * of its choice, and a remote gateway address change (mirror and Link status written in either
 * order) keeps callers served throughout. This file owns 127.0.141.0/24.
 */
import net from 'node:net';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Link, V1EndpointSlice, V1Service } from '../kube/types.js';
import { link } from './e2e/fixtures.js';
import { MemorySource } from './e2e/memory-source.js';
import { EgressListeners } from './egress.js';
import { type Ingress, startIngress } from './ingress.js';
import { resolverFor } from './resolver.js';
import { ServiceIndex } from './service-index.js';
import { SessionPool } from './session-pool.js';
import { startTcpBackend } from './test-support/backends.js';
import { authorizeClusters, CLUSTER_DOMAIN, PROBE_PATH } from './test-support/harness.js';
import { controllerSlice, controllerSlices } from './test-support/mirror-slices.js';
import { makePki, type TestPki } from './test-support/pki.js';
import { freePort, waitFor } from './test-support/wait.js';
import type { WatchSource } from './watch-exports.js';
import { type MirrorWatcher, watchMirrors } from './watch-mirrors.js';

const WEST_A = '127.0.141.1';
const WEST_B = '127.0.141.2';
const EAST = '127.0.141.3';
const TRAP = '127.0.141.4';

let pki: TestPki;
const cleanups: (() => Promise<unknown> | unknown)[] = [];
beforeAll(() => {
  pki = makePki();
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/**
 * A west gateway replica on `host:port` exporting test/podinfo and evil/sink, each of whose
 * backends greets with its name and the replica's `tag`.
 */
async function westGateway(host: string, port: number, tag: string): Promise<Ingress> {
  const index = new ServiceIndex();
  for (const [ns, name] of [
    ['test', 'podinfo'],
    ['evil', 'sink'],
  ] as const) {
    const backend = await startTcpBackend((s) => {
      s.write(`${name} via ${tag}\n`);
      s.pipe(s);
    }, host);
    cleanups.push(() => backend.close());
    index.upsertService({ namespace: ns, name, headless: false, ports: [{ name: 'http', port: 9898 }] });
    index.setSliceEndpoints(ns, name, `${name}-slice`, [
      { address: host, ready: true, ports: [{ name: 'http', port: backend.port }] },
    ]);
  }
  const ingress = await startIngress({
    host,
    port,
    secureContext: pki.gateway('west'),
    authorizePeer: authorizeClusters(['east']),
    resolve: resolverFor(index, CLUSTER_DOMAIN),
    probe: { path: PROBE_PATH, isReady: () => true },
  });
  cleanups.push(() => ingress.close());
  return ingress;
}

interface East {
  egress: EgressListeners;
  mirrors: MemorySource<V1Service>;
  links: MemorySource<Link>;
  watcher: MirrorWatcher;
}

/**
 * East's gateway egress, following `mirrors` and `links` as run-gateway wires it; the mirror
 * controller's slices are `slices`, else one for each of `mirrors`.
 */
function eastGateway(
  egressRange: { first: number; last: number },
  sources: {
    mirrors?: MemorySource<V1Service>;
    links?: MemorySource<Link>;
    slices?: WatchSource<V1EndpointSlice>;
  } = {},
): East {
  const eastContext = pki.gateway('east');
  const pool = new SessionPool({ secureContext: () => eastContext });
  const egress = new EgressListeners({ host: EAST, pool });
  const mirrors = sources.mirrors ?? new MemorySource<V1Service>();
  const links = sources.links ?? new MemorySource<Link>();
  const slices = sources.slices ?? controllerSlices(mirrors);
  const watcher = watchMirrors(mirrors, egress, { links, slices, egressRange, debounceMs: 1 });
  cleanups.push(() => pool.close());
  cleanups.push(() => egress.close());
  cleanups.push(() => watcher.close());
  return { egress, mirrors, links, watcher };
}

function mirror(
  ns: string,
  name: string,
  o: { egressPort: number; gateway: string; fq: string; created: string; uid?: string },
): V1Service {
  return {
    metadata: {
      namespace: ns,
      name,
      uid: o.uid ?? `${ns}-${name}`,
      creationTimestamp: o.created as never,
      labels: { 'mirror.linkerd.io/mirrored-service': 'true', 'mirror.linkerd.io/cluster-name': 'west' },
      annotations: {
        'isthmus.dev/egress-ports': `http=${o.egressPort}`,
        'isthmus.dev/remote-gateway': o.gateway,
        'mirror.linkerd.io/remote-svc-fq-name': o.fq,
      },
    },
    spec: { ports: [{ name: 'http', port: 9898 }] },
  };
}

/** The real mirror's remote Service, created by the controller long ago. */
const PODINFO = { fq: 'podinfo.test.svc.cluster.local', created: '2024-05-01T10:00:00Z' };
/** A tenant's own export in west, named by a Service created later. */
const SINK = { fq: 'sink.evil.svc.cluster.local', created: '2024-06-01T08:00:00Z' };

/** The greeting line of a connection to the egress port, or how the connection failed. */
function greet(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: EAST });
    let buf = '';
    socket.setEncoding('utf8');
    socket.on('data', (c: string) => {
      buf += c;
      if (buf.includes('\n')) {
        socket.destroy();
        resolve(buf.trim());
      }
    });
    socket.once('error', (e: NodeJS.ErrnoException) => resolve(`failed: ${e.code ?? e.message}`));
    socket.once('close', () => resolve(`failed: closed after "${buf}"`));
  });
}

/** Ports free on every address this file uses, for the gateways' one shared port. */
async function sharedPort(): Promise<number> {
  for (;;) {
    const port = await freePort(WEST_A);
    const free = await new Promise<boolean>((resolve) => {
      const s = net.createServer();
      s.once('error', () => resolve(false));
      s.listen(port, WEST_B, () => s.close(() => resolve(true)));
    });
    if (free) return port;
  }
}

describe('egress admission, end to end', () => {
  it("a tenant's older Service relabelled to claim a mirror's port: a restarted gateway still gives the port to the mirror", async () => {
    const ingress = await westGateway(WEST_A, 0, 'a');
    const gateway = `${WEST_A}:${ingress.address.port}`;
    const egressPort = await freePort(EAST);
    const real = mirror('test', 'podinfo-west', { egressPort, gateway, ...PODINFO });
    // Made long before the mirror; only the mirror controller's slice vouches for the real one.
    const forged = mirror('aaa', 'x', { egressPort, gateway, ...SINK, created: '2020-01-01T00:00:00Z' });
    const mirrors = new MemorySource<V1Service>();
    const links = new MemorySource<Link>();
    const slices = new MemorySource<V1EndpointSlice>();
    links.put(link('west', WEST_A, ingress.address.port));
    mirrors.put(real);
    slices.put(controllerSlice(real));
    mirrors.put(forged);
    const before = eastGateway({ first: egressPort, last: egressPort }, { mirrors, links, slices });
    await before.watcher.idle();
    expect(await greet(egressPort)).toBe('podinfo via a');
    // The restart: a new egress and watcher, which remember no holder.
    await before.watcher.close();
    await before.egress.close();
    const after = eastGateway({ first: egressPort, last: egressPort }, { mirrors, links, slices });
    await after.watcher.idle();
    expect(await greet(egressPort)).toBe('podinfo via a');
    expect(after.egress.routes().map((r) => r.mirror)).toEqual(['test/podinfo-west']);
    expect(after.watcher.refused()).toEqual([
      expect.objectContaining({ mirror: 'aaa/x', port: egressPort, unvouched: true }),
    ]);
  });

  it('a forged mirror in a namespace that sorts first claiming a real mirror’s port: the real one keeps serving', async () => {
    const ingress = await westGateway(WEST_A, 0, 'a');
    const gateway = `${WEST_A}:${ingress.address.port}`;
    const egressPort = await freePort(EAST);
    const east = eastGateway({ first: egressPort, last: egressPort });
    east.links.put(link('west', WEST_A, ingress.address.port));
    const real = mirror('test', 'podinfo-west', { egressPort, gateway, ...PODINFO });
    east.mirrors.put(real);
    await east.watcher.idle();
    expect(await greet(egressPort)).toBe('podinfo via a');

    // The tenant's own export in west, through west's real gateway: everything but the port is valid.
    const forged = mirror('aaa', 'x', { egressPort, gateway, ...SINK });
    east.mirrors.put(forged);
    await east.watcher.idle();
    expect(await greet(egressPort)).toBe('podinfo via a');
    expect(east.egress.routes().map((r) => r.mirror)).toEqual(['test/podinfo-west']);
    expect(east.watcher.refused()).toEqual([
      {
        mirror: 'aaa/x',
        port: egressPort,
        reason: `egress port ${egressPort} is already held by test/podinfo-west, an older claim`,
      },
    ]);

    // A gateway restarted with both Services present: the older claim wins, not the name order.
    await east.watcher.close();
    const restarted = eastGateway({ first: egressPort, last: egressPort });
    await east.egress.close();
    restarted.links.put(link('west', WEST_A, ingress.address.port));
    restarted.mirrors.put(forged);
    restarted.mirrors.put(real);
    await restarted.watcher.idle();
    expect(await greet(egressPort)).toBe('podinfo via a');
  });

  it('a forged remote gateway the Link does not name is refused: no listener, no dial', async () => {
    const ingress = await westGateway(WEST_A, 0, 'a');
    const trap = await startTcpBackend((s) => s.destroy(), TRAP);
    cleanups.push(() => trap.close());
    const egressPort = await freePort(EAST);
    const east = eastGateway({ first: egressPort, last: egressPort });
    east.links.put(link('west', WEST_A, ingress.address.port));
    east.mirrors.put(
      mirror('aaa', 'x', {
        egressPort,
        gateway: `${TRAP}:${trap.port}`,
        ...SINK,
      }),
    );
    await east.watcher.idle();
    expect(east.egress.listening()).toEqual([]);
    expect(await greet(egressPort)).toBe('failed: ECONNREFUSED');
    expect(trap.accepted).toBe(0);
    expect(east.watcher.refused()[0]?.reason).toMatch(
      /^remote gateway 127\.0\.141\.4:\d+ is not one the Link/,
    );
  });

  it('a port outside the egress range and a cluster without a Link are refused', async () => {
    const ingress = await westGateway(WEST_A, 0, 'a');
    const egressPort = await freePort(EAST);
    const east = eastGateway({ first: egressPort + 1, last: egressPort + 100 });
    const svc = mirror('test', 'podinfo-west', {
      egressPort,
      gateway: `${WEST_A}:${ingress.address.port}`,
      ...PODINFO,
    });
    east.mirrors.put(svc);
    await east.watcher.idle();
    expect(east.watcher.refused().map((r) => r.reason)).toEqual([
      'cluster "west" has no Link: only the mirrors the controller writes for a Link are routed',
    ]);
    east.links.put(link('west', WEST_A, ingress.address.port));
    await east.watcher.idle();
    expect(east.watcher.refused().map((r) => r.reason)).toEqual([
      `egress port ${egressPort} is outside the egress port range ${egressPort + 1}-${egressPort + 100}`,
    ]);
    expect(east.egress.listening()).toEqual([]);
    expect(await greet(egressPort)).toBe('failed: ECONNREFUSED');
  });

  it.each(['mirror first', 'Link status first'])(
    'a remote gateway address change keeps serving without a gap (%s)',
    async (order) => {
      const port = await sharedPort();
      await westGateway(WEST_A, port, 'a');
      await westGateway(WEST_B, port, 'b');
      const egressPort = await freePort(EAST);
      const east = eastGateway({ first: egressPort, last: egressPort });
      // The Link's spec names a load balancer hostname; the controller follows its addresses in status.
      const westLink = (address: string): Link => ({
        ...link('west', 'gw.west.example.com', port),
        status: { gatewayAddresses: [address] },
      });
      const at = (address: string): V1Service =>
        mirror('test', 'podinfo-west', {
          egressPort,
          gateway: `${address}:${port}`,
          ...PODINFO,
        });
      east.links.put(westLink(WEST_A));
      east.mirrors.put(at(WEST_A));
      await east.watcher.idle();
      expect(await greet(egressPort)).toBe('podinfo via a');

      // A client connected before the change, and one in between, both served.
      const early = net.connect({ port: egressPort, host: EAST });
      cleanups.push(() => early.destroy());
      if (order === 'mirror first') east.mirrors.put(at(WEST_B));
      else east.links.put(westLink(WEST_B));
      await east.watcher.idle();
      expect(east.egress.listening()).toEqual([egressPort]);
      expect(await greet(egressPort)).toBe('podinfo via a');

      if (order === 'mirror first') east.links.put(westLink(WEST_B));
      else east.mirrors.put(at(WEST_B));
      await east.watcher.idle();
      await waitFor(() => east.egress.routes()[0]?.remote.host === WEST_B, 'the route to the new address');
      expect(await greet(egressPort)).toBe('podinfo via b');
      expect(east.watcher.refused()).toEqual([]);
      expect(early.destroyed).toBe(false);
    },
  );
});

/**
 * --max-tunnels shared fairly among peer clusters (security review: one pod of east, opening
 * connections to its own egress, took all 50 tunnels of west and north got 503). A busy peer may use
 * every free tunnel but a headroom kept for each other sharer under its share (tunnel-share.ts),
 * so one busy peer is not capped at max ÷ linked clusters either (review).
 * Real TLS and sockets on loopback; the pure rule is tabled in tunnel-share.test.ts.
 */
import net from 'node:net';
import { afterEach, beforeAll, expect, it } from 'vitest';
import { waitFor as waitUntil } from '../wait-for.js';
import { echo, startTcpBackend, type TcpBackend } from './test-support/backends.js';
import { ask, connectTo, h2connect } from './test-support/h2-client.js';
import { authorizeClusters, CLUSTER_DOMAIN, startEchoIngress, startHarness } from './test-support/harness.js';
import { makePki, type TestPki } from './test-support/pki.js';
import { waitFor } from './test-support/wait.js';

const ECHO = `echo.test.svc.${CLUSTER_DOMAIN}:7000`;
let pki: TestPki;
let backend: TcpBackend;
const cleanups: Array<() => Promise<void> | void> = [];

beforeAll(async () => {
  pki = makePki();
  backend = await startTcpBackend(echo);
  return () => backend.close();
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

it("one pod of east flooding its egress holds east's share; north still gets 200", async () => {
  const h = await startHarness(pki, { allowed: ['east', 'north'], limits: { maxTunnels: 50 } });
  cleanups.push(() => h.close());
  h.exportService('test', 'echo', 7000, [backend.port]);
  // North's gateway holds a session (its probes keep one open) before east's flood begins.
  const north = h2connect(h.ingress.address, pki.gateway('north'));
  cleanups.push(() => north.destroy());
  expect(await ask(north, { ':method': 'GET', ':path': '/ready' })).toMatchObject({ status: 200 });

  const port = await h.route('test', 'echo', 7000);
  const clients: net.Socket[] = [];
  cleanups.push(() => {
    for (const c of clients) c.destroy();
  });
  for (let i = 0; i < 50; i++) {
    const c = net.connect(port, '127.0.0.1');
    c.on('error', () => {});
    clients.push(c);
  }
  // East gets all but north's headroom (48 of 50); its other connections are refused (503).
  await waitFor(() => h.ingress.openTunnels() === 48, 'east borrowing up to the headroom', 15_000);
  await waitFor(
    () => clients.filter((c) => c.destroyed).length === 2,
    'the rest of the flood refused',
    15_000,
  );
  expect(h.ingress.openTunnels()).toBe(48);

  expect(await ask(north, connectTo(ECHO))).toMatchObject({ status: 200 });
  // East's tunnels still carry bytes.
  const live = clients.find((c) => !c.destroyed)!;
  const echoed = new Promise<string>((resolve) => live.once('data', (b: Buffer) => resolve(b.toString())));
  live.write('still served');
  expect(await echoed).toBe('still served');

  for (const c of clients) c.destroy();
  north.destroy();
  await waitFor(() => h.ingress.activeTunnels() === 0, 'every tunnel ended', 15_000);
}, 60_000);

it('keeps headroom for a linked peer before it connects, and lets a peer alone take the rest', async () => {
  const admitted = { clusters: ['east', 'north'] };
  const { ingress } = await startEchoIngress(pki, backend.port, {
    limits: { maxTunnels: 10 },
    extra: { authorizePeer: authorizeClusters(['east', 'north']), admittedPeers: () => admitted.clusters },
  });
  cleanups.push(() => ingress.close().then(() => undefined));
  const east = h2connect(ingress.address, pki.gateway('east'));
  cleanups.push(() => east.destroy());
  // Not capped at 10 ÷ 2 linked clusters: all but north's headroom (1).
  const held = Array.from({ length: 9 }, () => east.request(connectTo(ECHO), { endStream: false }));
  for (const s of held) s.on('error', () => {});
  await waitFor(() => ingress.openTunnels() === 9, 'east holding 9 of 10', 10_000);
  expect(await ask(east, connectTo(ECHO))).toMatchObject({ status: 503 });
  // North, arriving now, finds its headroom.
  const north = h2connect(ingress.address, pki.gateway('north'));
  cleanups.push(() => north.destroy());
  expect(await ask(north, connectTo(ECHO))).toMatchObject({ status: 200 });
  for (const s of held) s.close();
  north.destroy();
  await waitFor(() => ingress.activeTunnels() === 0 && ingress.sessions() === 1, 'the tunnels closed');

  // With only east admitted it may take the whole gateway (revalidate re-reads the admitted peers).
  admitted.clusters = ['east'];
  ingress.revalidate();
  const all = Array.from({ length: 10 }, () => east.request(connectTo(ECHO), { endStream: false }));
  for (const s of all) s.on('error', () => {});
  await waitFor(() => ingress.openTunnels() === 10, 'east holding all 10', 10_000);
  expect(await ask(east, connectTo(ECHO))).toMatchObject({ status: 503 });
  for (const s of all) s.close();
  await waitUntil('no tunnel left', () => ingress.activeTunnels() === 0 && ingress.openTunnels() === 0);
}, 60_000);

/**
 * A tunnel whose HTTP/2 session dies under it (the ingress cuts a peer no longer admitted, the
 * egress's grace period ends, the pool drops a revoked remote or closes) ends in a TCP reset on
 * both ends, never a clean FIN: RFC 9113 §8.5, and a FIN would read as "the peer finished" and
 * silently truncate close-delimited data.
 */
import net from 'node:net';
import { afterEach, beforeAll, expect, it } from 'vitest';
import type { IngressOptions } from './ingress.js';
import { startTcpBackend } from './test-support/backends.js';
import { authorizeClusters, type Harness, startHarness } from './test-support/harness.js';
import { makePki, type TestPki } from './test-support/pki.js';
import { waitFor, within } from './test-support/wait.js';

let pki: TestPki;
const cleanups: (() => Promise<unknown> | unknown)[] = [];
beforeAll(() => {
  pki = makePki();
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Watched {
  socket: net.Socket;
  outcome: Promise<'fin' | 'reset'>;
}

/** 'reset' when the socket errors (ECONNRESET …), 'fin' when it sees a clean end first. */
function watch(socket: net.Socket): Watched {
  const outcome = new Promise<'fin' | 'reset'>((resolve) => {
    socket.on('error', () => resolve('reset'));
    socket.on('end', () => resolve('fin'));
    socket.on('close', (hadError) => resolve(hadError ? 'reset' : 'fin'));
  });
  socket.resume();
  return { socket, outcome };
}

async function setup(): Promise<{
  h: Harness;
  client: Watched;
  backend: () => Watched;
  allow: { ok: boolean };
  revoked: { value: boolean };
}> {
  const allow = { ok: true };
  const revoked = { value: false };
  const base = authorizeClusters(['east']);
  const authorizePeer: IngressOptions['authorizePeer'] = (id, c, i) =>
    allow.ok ? base(id, c, i) : { ok: false, reason: 'unlinked' };
  const h = await startHarness(pki, {
    authorizePeer,
    pool: { checkPeerCertificate: () => (revoked.value ? 'revoked' : undefined) },
  });
  cleanups.push(() => h.close());
  let backendSide: Watched | undefined;
  const b = await startTcpBackend((s) => {
    backendSide = watch(s);
    s.write('hello');
  });
  cleanups.push(() => b.close());
  h.exportService('test', 'svc', 7000, [b.port]);
  const port = await h.route('test', 'svc', 7000);
  const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  const got = new Promise<void>((r) => socket.once('data', () => r()));
  const client = watch(socket);
  cleanups.push(() => socket.destroy());
  await within(got, 5_000, 'first bytes through the tunnel');
  await waitFor(() => backendSide !== undefined, 'backend connection');
  return { h, client, backend: () => backendSide!, allow, revoked };
}

it('the ingress cutting the session (revalidate) resets the backend, not a clean FIN', async () => {
  const { h, backend, allow } = await setup();
  allow.ok = false;
  expect(h.ingress.revalidate()).toBe(1);
  expect(await within(backend().outcome, 5_000, 'backend outcome')).toBe('reset');
});

it('the end of the egress grace period (cut) resets the client, not a clean FIN', async () => {
  const { h, client } = await setup();
  await within(h.egress.close(0), 5_000, 'egress close');
  expect(await within(client.outcome, 5_000, 'client outcome')).toBe('reset');
});

it('the egress pool cutting a revoked session (revalidate) resets the client, not a clean FIN', async () => {
  const { h, client, revoked } = await setup();
  revoked.value = true;
  expect(h.pool.revalidate()).toBe(1);
  expect(await within(client.outcome, 5_000, 'client outcome')).toBe('reset');
});

it('closing the session pool (gateway stop) resets the client, not a clean FIN', async () => {
  const { h, client } = await setup();
  await within(h.pool.close(), 5_000, 'pool close');
  expect(await within(client.outcome, 5_000, 'client outcome')).toBe('reset');
});

/**
 * The optional per-tunnel idle timeout (off by default: an idle database connection held for hours
 * is legitimate): a tunnel that carries no byte either way for that long is cut, freeing its share
 * of --max-tunnels. Real TLS and sockets on loopback.
 */
import type { ClientHttp2Stream } from 'node:http2';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Ingress } from './ingress.js';
import { echo, startTcpBackend, type TcpBackend } from './test-support/backends.js';
import { connectTo, h2connect } from './test-support/h2-client.js';
import { CLUSTER_DOMAIN, startEchoIngress } from './test-support/harness.js';
import { makePki, type TestPki } from './test-support/pki.js';
import { waitFor, within } from './test-support/wait.js';

const ECHO = `echo.test.svc.${CLUSTER_DOMAIN}:7000`;
let pki: TestPki;
let backend: TcpBackend;
let ingress: Ingress;

beforeAll(async () => {
  pki = makePki();
  backend = await startTcpBackend(echo);
  ({ ingress } = await startEchoIngress(pki, backend.port, { limits: { tunnelIdleTimeoutMs: 300 } }));
});
afterAll(async () => {
  await ingress.close();
  await backend.close();
});

it('cuts a tunnel idle for the timeout, and serves new tunnels after', async () => {
  const s = h2connect(ingress.address, pki.gateway('east'));
  const open = (): Promise<ClientHttp2Stream> => {
    const t = s.request(connectTo(ECHO), { endStream: false });
    t.on('error', () => {});
    return within(new Promise((resolve) => t.once('response', () => resolve(t))), 5_000, 'CONNECT 200');
  };
  const idle = await open();
  await within(new Promise((r) => idle.once('close', r)), 10_000, 'the idle tunnel cut');
  expect(idle.rstCode).toBe(0x0a); // CONNECT_ERROR: the tunnel did not end normally
  await waitFor(() => ingress.openTunnels() === 0, 'no tunnel left');

  const next = await open();
  const echoed = new Promise<string>((resolve) => next.once('data', (b: Buffer) => resolve(b.toString())));
  next.write('served');
  expect(await within(echoed, 5_000, 'the echo')).toBe('served');
  next.close();
  s.destroy();
  await waitFor(() => ingress.connections() === 0 && ingress.openTunnels() === 0, 'no connection left');
});

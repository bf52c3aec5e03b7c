/**
 * The per-peer session cap counts only sessions not draining (review: after daily certificate
 * rotations a peer whose old sessions live on for long-lived tunnels hit the cap and was locked
 * out). A session whose certificate expired got GOAWAY and takes no new stream: it no longer counts
 * against its cluster, while --max-sessions still does. Real TLS on loopback, certificates valid for
 * a few more seconds, waited for with deadlines.
 */
import type { ClientHttp2Session, ClientHttp2Stream } from 'node:http2';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Ingress } from './ingress.js';
import { DRAINING_ALLOWANCE } from './session-caps.js';
import { echo, startTcpBackend, type TcpBackend } from './test-support/backends.js';
import { ask, connectTo, h2connect } from './test-support/h2-client.js';
import { authorizeClusters, CLUSTER_DOMAIN, PROBE_PATH, startEchoIngress } from './test-support/harness.js';
import { makePki, type TestPki } from './test-support/pki.js';
import { waitFor, within } from './test-support/wait.js';

const ECHO = `echo.test.svc.${CLUSTER_DOMAIN}:7000`;
const PROBE = { ':method': 'GET', ':path': PROBE_PATH } as const;

let pki: TestPki;
let backend: TcpBackend;
let ingress: Ingress;

beforeAll(async () => {
  pki = makePki();
  pki.gateway('east');
  backend = await startTcpBackend(echo);
  ({ ingress } = await startEchoIngress(pki, backend.port, {
    limits: { maxSessionsPerPeer: 2, maxSessions: 3 },
    extra: { authorizePeer: authorizeClusters(['east']) },
  }));
});
afterAll(async () => {
  await ingress.close();
  await backend.close();
});

it('admits a fresh session while two expired ones of the same peer still carry tunnels', async () => {
  const identity = 'spiffe://cluster.local/cluster/east/gateway';
  // Valid 4 s from when its key is made (key generation can take seconds on a loaded machine).
  const { context: shortLived } = pki.shortLived('east', { uriSans: [identity], validForMs: 4_000 });
  const old: ClientHttp2Session[] = [];
  const tunnels: ClientHttp2Stream[] = [];
  const goaways: Promise<unknown>[] = [];
  for (let i = 0; i < 2; i++) {
    const s = h2connect(ingress.address, shortLived);
    old.push(s);
    goaways.push(new Promise((resolve) => s.once('goaway', resolve)));
    const tunnel = s.request(connectTo(ECHO), { endStream: false });
    tunnel.on('error', () => {});
    tunnels.push(tunnel);
    await within(new Promise((r) => tunnel.once('response', r)), 5_000, 'CONNECT 200');
  }
  await within(Promise.all(goaways), 15_000, 'GOAWAY at the certificate expiry');
  expect(ingress.sessions()).toBe(2);

  const fresh = h2connect(ingress.address, pki.gateway('east'));
  expect(await ask(fresh, PROBE)).toMatchObject({ status: 200 });
  expect(await ask(fresh, connectTo(ECHO))).toMatchObject({ status: 200 });
  // --max-sessions still counts the draining ones: a fourth session is one too many.
  const fourth = h2connect(ingress.address, pki.gateway('east'));
  expect(await ask(fourth, PROBE)).not.toMatchObject({ status: 200 });

  for (const t of tunnels) t.close();
  for (const s of [...old, fresh, fourth]) s.destroy();
  await waitFor(() => ingress.connections() === 0 && ingress.sessions() === 0, 'no connection left');
}, 30_000);

it('a peer that drains its own sessions (its GOAWAY, a tunnel kept) is bounded all the same', async () => {
  const { ingress: capped } = await startEchoIngress(pki, backend.port, {
    limits: { maxSessionsPerPeer: 1, maxSessions: 100 },
    extra: { authorizePeer: authorizeClusters(['east']) },
  });
  const opened: ClientHttp2Session[] = [];
  try {
    let admitted = 0;
    for (let i = 0; i < DRAINING_ALLOWANCE + 2; i++) {
      const s = h2connect(capped.address, pki.gateway('east'));
      opened.push(s);
      const tunnel = s.request(connectTo(ECHO), { endStream: false });
      tunnel.on('error', () => {});
      const status = await within(
        new Promise<number | undefined>((resolve) => {
          tunnel.once('response', (h) => resolve(Number(h[':status'])));
          tunnel.once('close', () => resolve(undefined));
        }),
        5_000,
        'an answer or a refusal',
      );
      if (status !== 200) continue;
      admitted++;
      s.goaway(0);
      await waitFor(() => capped.sessions() === admitted, 'the session counted');
    }
    expect(admitted).toBe(DRAINING_ALLOWANCE);
  } finally {
    for (const s of opened) s.destroy();
    await waitFor(() => capped.connections() === 0, 'no connection left');
    await capped.close();
  }
}, 30_000);

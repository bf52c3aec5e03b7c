import { X509Certificate } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { issueGatewayCertificate } from '../identity/ca.js';
import { TEST_TRUST_DOMAIN, testGatewayCertificate, testPki } from '../identity/testing.js';
import type { Link } from '../kube/types.js';
import {
  type AdminOptions,
  type AdminServer,
  type PresentedCertificate,
  parseProbeQuery,
  presentedCertificate,
  type Readiness,
  sniffProtocol,
  startAdmin,
} from './admin.js';
import { checkHealth, createHealthClient, type HealthCheckResponse } from './health-service.js';
import { linkedGatewaysOnly } from './probe-targets.js';
import { within } from './test-support/wait.js';

describe('sniffProtocol', () => {
  it.each([
    ['PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'grpc'],
    ['PRI * HTTP/2.0', 'grpc'],
    ['PRI', 'undecided'],
    ['', 'undecided'],
    ['GET /ready HTTP/1.1\r\n', 'http'],
    ['PRIX', 'http'],
    ['P', 'undecided'],
  ])('%j → %s', (head, verdict) => {
    expect(sniffProtocol(Buffer.from(head))).toBe(verdict);
  });
});

describe('parseProbeQuery', () => {
  it.each([
    [
      'gateway=127.0.2.1:4143',
      { ok: true, gateway: { host: '127.0.2.1', port: 4143 }, path: '/ready', timeoutMs: 2000 },
    ],
    [
      'gateway=gw:1&path=/live&timeoutMs=50',
      { ok: true, gateway: { host: 'gw', port: 1 }, path: '/live', timeoutMs: 50 },
    ],
    ['', { ok: false, error: 'gateway=<host>:<port> is required' }],
    ['gateway=nope', { ok: false, error: 'gateway "nope" is not <host>:<port>' }],
    ['gateway=a:1&path=ready', { ok: false, error: 'path "ready" is invalid' }],
    ['gateway=a:1&timeoutMs=0', { ok: false, error: 'timeoutMs must be an integer in 1..30000' }],
    ['gateway=a:1&timeoutMs=99999', { ok: false, error: 'timeoutMs must be an integer in 1..30000' }],
    [
      'gateway=gw:1&cluster=west',
      { ok: true, gateway: { host: 'gw', port: 1 }, path: '/ready', timeoutMs: 2000, cluster: 'west' },
    ],
    ['gateway=a:1&cluster=We%20st', { ok: false, error: 'cluster "We st" is not a cluster name' }],
  ])('%s', (query, expected) => {
    expect(parseProbeQuery(new URLSearchParams(query))).toEqual(expected);
  });
});

/** One `/probe` answer of the admin at `base`: its status and JSON. */
async function probed(base: string, query: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${base}/probe?${query}`);
  return { status: res.status, body: await res.json() };
}

describe('startAdmin', () => {
  let admin: AdminServer | undefined;
  const clients: grpc.Client[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await admin?.close();
    admin = undefined;
  });

  const state: Readiness = { ready: false, reasons: ['certificates not loaded'] };
  const start = async (overrides: Partial<AdminOptions> = {}): Promise<string> => {
    state.ready = false;
    state.reasons = ['certificates not loaded'];
    admin = await startAdmin({
      host: '127.0.0.1',
      port: 0,
      readiness: () => ({ ...state }),
      metrics: async () => 'isthmus_tunnel_open{direction="egress"} 0\n',
      probe: async (gateway, path, timeoutMs) =>
        gateway.host === '127.0.2.1'
          ? { alive: true, latencyMs: 3 }
          : { alive: false, latencyMs: timeoutMs, error: `no answer on ${path}` },
      ...overrides,
    });
    return `http://127.0.0.1:${admin.address.port}`;
  };

  it('answers /live, /ready (with the reason), /metrics and 404', async () => {
    const base = await start();
    expect((await fetch(`${base}/live`)).status).toBe(200);
    const notReady = await fetch(`${base}/ready`);
    expect(notReady.status).toBe(503);
    expect(await notReady.text()).toContain('certificates not loaded');
    state.ready = true;
    expect((await fetch(`${base}/ready`)).status).toBe(200);
    const metrics = await fetch(`${base}/metrics`);
    expect(metrics.headers.get('content-type')).toContain('text/plain; version=0.0.4');
    expect(await metrics.text()).toContain('isthmus_tunnel_open');
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    expect((await fetch(`${base}/live`, { method: 'POST' })).status).toBe(405);
  });

  it('answers /probe with the pool verdict: 200 alive, 503 dead, 400 malformed, 503 on a throw', async () => {
    const base = await start();
    const alive = await fetch(`${base}/probe?gateway=127.0.2.1:4143`);
    expect(alive.status).toBe(200);
    expect(await alive.json()).toEqual({ alive: true, latencyMs: 3 });
    expect(await probed(base, 'gateway=127.0.3.1:4143&path=/ready&timeoutMs=100')).toEqual({
      status: 503,
      body: { alive: false, latencyMs: 100, error: 'no answer on /ready', failure: 'remote' },
    });
    expect(await probed(base, 'gateway=x')).toMatchObject({ status: 400, body: { failure: 'local' } });
    await admin?.close();
    const thrown = await start({
      probe: async () => {
        throw new Error('pool closed');
      },
    });
    expect(await probed(thrown, 'gateway=127.0.2.1:4143')).toMatchObject({
      status: 503,
      body: { alive: false, error: 'pool closed', failure: 'local' },
    });
  });

  // The controller probes through this admin: a failure here must not read as the remote's.
  it('says whose a failed probe is: this gateway that cannot probe or refuses the target, or the remote', async () => {
    const base = await start({
      probe: async (gateway) =>
        gateway.host === '127.0.2.1'
          ? { alive: false, latencyMs: 0, error: 'certificates not loaded', failure: 'local' }
          : { alive: false, latencyMs: 0, error: 'not linked', refused: true },
    });
    // 503 as before: an older controller counts it as a failure, as it always did.
    expect(await probed(base, 'gateway=127.0.2.1:4143')).toEqual({
      status: 503,
      body: { alive: false, latencyMs: 0, error: 'certificates not loaded', failure: 'local' },
    });
    expect(await probed(base, 'gateway=127.0.3.1:4143')).toMatchObject({
      status: 403,
      body: { refused: true, failure: 'local' },
    });
  });

  it('answers /certificate with the chain in use, certificates only, and follows a swap; 503 before one', async () => {
    let current: PresentedCertificate | undefined;
    const base = await start({ certificate: () => current });
    const none = await fetch(`${base}/certificate`);
    expect(none.status).toBe(503);
    expect(await none.json()).toEqual({ error: 'no certificate yet: see /ready' });

    const first = testGatewayCertificate('east');
    // Whatever the caller hands over, a key never leaves: only CERTIFICATE blocks are kept.
    current = presentedCertificate(first.chainPem + first.keyPem);
    const answered = await fetch(`${base}/certificate`);
    expect(answered.status).toBe(200);
    const body = await answered.text();
    expect(body).not.toMatch(/PRIVATE KEY/);
    const x509 = new X509Certificate(first.certPem);
    expect(JSON.parse(body)).toEqual({
      chain: [first.certPem, testPki().issuers.east.certPem].map((pem) => `${pem.trim()}\n`),
      serial: x509.serialNumber,
      notAfter: new Date(x509.validTo).toISOString(),
    });

    const renewed = issueGatewayCertificate(testPki().issuers.east, {
      trustDomain: TEST_TRUST_DOMAIN,
      cluster: 'east',
    });
    current = presentedCertificate(renewed.chainPem);
    expect(await (await fetch(`${base}/certificate`)).json()).toMatchObject({
      serial: new X509Certificate(renewed.certPem).serialNumber,
    });
  });

  it('answers /certificate 404 when it is given no certificate to show', async () => {
    const base = await start();
    expect((await fetch(`${base}/certificate`)).status).toBe(404);
  });

  it('serves grpc.health.v1.Health Check and Watch on the same port', async () => {
    await start();
    const client = createHealthClient(`127.0.0.1:${admin?.address.port}`);
    clients.push(client);
    expect(await checkHealth(client)).toBe('NOT_SERVING');
    await expect(checkHealth(client, 'other')).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });

    const seen: string[] = [];
    const call = client.Watch({ service: '' });
    call.on('data', (m: HealthCheckResponse) => seen.push(m.status));
    call.on('error', () => {});
    await waitFor(() => seen.length === 1);
    state.ready = true;
    admin?.refresh();
    await waitFor(() => seen.length === 2);
    expect(seen).toEqual(['NOT_SERVING', 'SERVING']);
    expect(await checkHealth(client)).toBe('SERVING');
    call.cancel();

    // HTTP/1.1 still works beside the gRPC session.
    expect((await fetch(`http://127.0.0.1:${admin?.address.port}/ready`)).status).toBe(200);
  });

  it('closes with open idle connections and a silent client', async () => {
    await start();
    const silent = net.connect(admin?.address.port ?? 0, '127.0.0.1');
    silent.on('error', () => {});
    await within(
      new Promise((resolve) => silent.once('connect', resolve)),
      5_000,
      'the silent client to connect',
    );
    const closed = new Promise((resolve) => silent.once('close', resolve));
    await within(admin!.close(), 10_000, 'close() with a silent client connected');
    await within(closed, 5_000, 'the silent client to be disconnected');
    admin = undefined;
  });
});

/** A GET on its own connection (no pool: each held request holds its own socket, as a flood's do). */
function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
  });
}

// Security review, finding 11: a target no Link names was held for up to timeoutMs (30 s) waiting
// for Link events, with no limit (3,000 requests held 3,000 fds). Beyond 64 waiting, the refusal
// is answered at once, as if no Link event had come.
describe('/probe of a target no Link names', () => {
  let admin: AdminServer | undefined;
  afterEach(async () => {
    await admin?.close();
    admin = undefined;
  });

  it('holds at most 64 requests waiting for a Link event; beyond them it answers 403 at once', async () => {
    let links: Link[] = [];
    const handlers = new Set<() => void>();
    const source = {
      list: () => links,
      onEvent(handler: () => void) {
        handlers.add(handler);
        return () => handlers.delete(handler);
      },
    };
    admin = await startAdmin({
      host: '127.0.0.1',
      port: 0,
      readiness: () => ({ ready: true, reasons: [] }),
      metrics: async () => '',
      probe: linkedGatewaysOnly(source, async () => ({ alive: true, latencyMs: 1 })),
    });
    const url = `http://127.0.0.1:${admin.address.port}/probe?gateway=10.9.9.9:4143&timeoutMs=30000`;
    const held = Array.from({ length: 64 }, () => get(url));
    await waitFor(() => handlers.size === 64, 10_000);

    // Held ones would answer only after 30 s: these come well within the deadline, or the test fails.
    const beyond = await within(
      Promise.all(Array.from({ length: 8 }, () => get(url))),
      10_000,
      'the requests beyond the limit to be answered',
    );
    for (const answer of beyond) {
      expect(answer.status).toBe(403);
      expect(JSON.parse(answer.body)).toMatchObject({ refused: true, failure: 'local' });
      expect(JSON.parse(answer.body).error).toContain('/probe dials only linked gateways');
    }
    expect(handlers.size).toBe(64);

    // The ones waiting still get what they waited for: a Link naming the gateway.
    links = [
      {
        apiVersion: 'multicluster.isthmus.dev/v1alpha1',
        kind: 'Link',
        metadata: { namespace: 'isthmus-system', name: 'west' },
        spec: { targetClusterName: 'west', clusterCredentialsSecret: 'c', gatewayAddress: '10.9.9.9' },
      },
    ];
    for (const h of [...handlers]) h();
    const answers = await within(Promise.all(held), 10_000, 'the held requests to be answered');
    expect(answers.map((a) => a.status)).toEqual(Array.from({ length: 64 }, () => 200));
    expect(handlers.size).toBe(0);
    // Slots are free again: a new refused target waits for Link events once more.
    const again = get(url.replace('10.9.9.9', '10.9.9.8'));
    await waitFor(() => handlers.size === 1, 10_000);
    links = [...links, { ...links[0]!, spec: { ...links[0]!.spec, gatewayAddress: '10.9.9.8' } }];
    for (const h of [...handlers]) h();
    expect((await within(again, 10_000, 'the last probe')).status).toBe(200);
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met before the deadline');
    await new Promise((r) => setTimeout(r, 5));
  }
}

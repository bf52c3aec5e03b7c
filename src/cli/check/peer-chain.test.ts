import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { gatewayIdentityOf, verifyChain } from '../../identity/index.js';
import { testGatewayCertificate, testPki } from '../../identity/testing.js';
import { gatewayChain } from './gather.js';
import { fetchPeerChain } from './peer-chain.js';
import { link } from './test-builders.js';

const servers: (Server | TlsServer)[] = [];
const sockets: Socket[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** A gateway-like ingress: TLS 1.3 only, h2, and a client certificate is required. */
async function mtlsServer(): Promise<number> {
  const cert = testGatewayCertificate('west');
  const server = createTlsServer({
    key: cert.keyPem,
    cert: cert.chainPem,
    ca: testPki().anchor.certPem,
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.3',
    ALPNProtocols: ['h2'],
  });
  server.on('tlsClientError', () => {}); // our client has no certificate: expected
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

describe('fetchPeerChain', () => {
  it('reads the chain of a server that requires a client certificate we do not have', async () => {
    const port = await mtlsServer();
    const got = await fetchPeerChain('127.0.0.1', port, { timeoutMs: 5000 });
    expect(got.ok).toBe(true);
    if (!got.ok) return;
    expect(got.address).toBe(`127.0.0.1:${port}`);
    expect(got.chainPem).toHaveLength(2);
    const [leaf, ...rest] = got.chainPem;
    expect(gatewayIdentityOf(leaf!)).toBe('spiffe://cluster.local/cluster/west/gateway');
    expect(verifyChain(leaf!, rest, [testPki().anchor.certPem])).toEqual({ ok: true });
  });

  it('reports a refused connection', async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const got = await fetchPeerChain('127.0.0.1', port, { timeoutMs: 5000 });
    expect(got).toMatchObject({ ok: false, error: expect.stringContaining('ECONNREFUSED') });
  });

  it('gives up at its deadline when the server never answers the handshake', async () => {
    const silent = createServer((socket) => sockets.push(socket));
    servers.push(silent);
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as AddressInfo).port;
    const got = await fetchPeerChain('127.0.0.1', port, { timeoutMs: 200 });
    expect(got).toMatchObject({ ok: false, error: 'no TLS handshake within 200 ms' });
  });
});

describe('gatewayChain', () => {
  it("handshakes with the addresses the controller follows (the remote LoadBalancer's), not a stale gatewayAddress", async () => {
    const port = await mtlsServer();
    // The Link still names the gateway's old address; the controller dials the one in its status.
    const l = link('west', {
      spec: { gatewayAddress: '127.0.0.2', gatewayPort: port },
      gatewayAddresses: ['127.0.0.1'],
    });
    expect(await gatewayChain(l, 5000)).toMatchObject({ ok: true, address: `127.0.0.1:${port}` });
  });

  it("falls back to the Link's gatewayAddress while the status follows none", async () => {
    const port = await mtlsServer();
    const l = link('west', { spec: { gatewayAddress: '127.0.0.1', gatewayPort: port } });
    expect(await gatewayChain(l, 5000)).toMatchObject({ ok: true, address: `127.0.0.1:${port}` });
  });
});

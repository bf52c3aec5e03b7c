import { execFile } from 'node:child_process';
import { createPublicKey, X509Certificate } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { promisify } from 'node:util';
import forge from 'node-forge';
import { afterAll, describe, expect, it } from 'vitest';
import {
  CLOCK_SKEW_ALLOWANCE_MS,
  certificateInfo,
  createIssuer,
  gatewayIdentityOf,
  issueGatewayCertificate,
  issueLeaf,
  parseSpiffeGatewayIdentity,
  serialNumber,
  verifyChain,
} from './ca.js';
import { parseSubjectAltName } from './certificate-info.js';
import { splitPem } from './pem.js';
import {
  foreignTestPki,
  TEST_TRUST_DOMAIN,
  testGatewayCertificate,
  testLeafKey,
  testPki,
} from './testing.js';

const run = promisify(execFile);
const EAST_ID = 'spiffe://cluster.local/cluster/east/gateway';
const WEST_ID = 'spiffe://cluster.local/cluster/west/gateway';

describe('trust anchor and issuer', () => {
  it('anchor is a self-signed CA, issuer is a CA named after its cluster and chains to it', () => {
    const { anchor, issuers } = testPki();
    const a = certificateInfo(anchor.certPem);
    expect(a).toMatchObject({
      subject: 'CN=root.cluster.local',
      issuer: 'CN=root.cluster.local',
      isCa: true,
    });
    const i = certificateInfo(issuers.east.certPem);
    expect(i).toMatchObject({ subject: 'CN=identity.east.cluster.local', isCa: true });
    expect(i.notAfter.getTime() - Date.now()).toBeGreaterThan(364 * 24 * 3600 * 1000);
    expect(verifyChain(issuers.east.certPem, [], [anchor.certPem])).toEqual({ ok: true });
  });

  it('an issuer of another PKI does not chain to our anchor', () => {
    const verdict = verifyChain(foreignTestPki().issuers.east.certPem, [], [testPki().anchor.certPem]);
    expect(verdict.ok).toBe(false);
  });

  it('refuses invalid cluster names and trust domains', () => {
    const { anchor } = testPki();
    expect(() => issueGatewayCertificate(anchor, { trustDomain: 'Bad Domain', cluster: 'east' })).toThrow();
    expect(() => createIssuerFor('East_1')).toThrow(/not a valid DNS label/);
  });
});

function createIssuerFor(cluster: string) {
  return createIssuer(testPki().anchor, { cluster, trustDomain: TEST_TRUST_DOMAIN });
}

describe('gateway certificates', () => {
  it('carry exactly the gateway SPIFFE ID, a 24 h lifetime and a leaf+issuer chain', () => {
    const cert = testGatewayCertificate('east');
    const info = certificateInfo(cert.certPem);
    expect(info.uriSans).toEqual([EAST_ID]);
    expect(info.isCa).toBe(false);
    expect(info.subject).toBe('CN=gateway.east.cluster.local');
    expect(info.notAfter.getTime()).toBe(cert.notAfter.getTime());
    // From its own notBefore: the test certificate may have been minted minutes ago by another file.
    const lifetime = info.notAfter.getTime() - (info.notBefore.getTime() + CLOCK_SKEW_ALLOWANCE_MS);
    expect(Math.abs(lifetime - 24 * 3600 * 1000)).toBeLessThan(2_000);
    expect(gatewayIdentityOf(cert.certPem)).toBe(EAST_ID);
    const chain = splitPem(cert.chainPem);
    expect(chain).toHaveLength(2);
    expect(certificateInfo(chain[1]!).subject).toBe('CN=identity.east.cluster.local');
    expect(verifyChain(chain[0]!, chain.slice(1), [testPki().anchor.certPem])).toEqual({ ok: true });
  });

  it('rounds notAfter up to a whole second so the lifetime is a minimum', () => {
    // Within the issuer's validity (X.509 times are whole seconds), else its end would cap the leaf.
    const issuerStart = certificateInfo(testPki().issuers.west.certPem).notBefore.getTime();
    const cert = issueGatewayCertificate(testPki().issuers.west, {
      trustDomain: TEST_TRUST_DOMAIN,
      cluster: 'west',
      lifetimeMs: 2000,
      now: new Date(issuerStart + 60_400),
    });
    expect(cert.notAfter.getTime()).toBe(issuerStart + 63_000);
    expect(certificateInfo(cert.certPem).notAfter.getTime()).toBe(issuerStart + 63_000);
  });

  it('never outlive their issuer: an issuer ending in 1 h and a 24 h lifetime give a leaf ending with it', () => {
    const issuer = testPki().issuers.east;
    const issuerNotAfter = certificateInfo(issuer.certPem).notAfter;
    const cert = issueGatewayCertificate(issuer, {
      trustDomain: TEST_TRUST_DOMAIN,
      cluster: 'east',
      lifetimeMs: 24 * 3600 * 1000,
      now: new Date(issuerNotAfter.getTime() - 3600 * 1000),
    });
    expect(cert.notAfter).toEqual(issuerNotAfter);
    expect(certificateInfo(cert.certPem).notAfter).toEqual(issuerNotAfter);
  });

  it('gatewayIdentityOf ignores certificates that are not a single gateway identity', () => {
    const issuer = testPki().issuers.east;
    const { publicKeyPem } = testLeafKey();
    const twoUris = issueLeaf(issuer, { uriSans: [EAST_ID, WEST_ID], publicKeyPem });
    const workload = issueLeaf(issuer, {
      uriSans: ['spiffe://cluster.local/ns/default/sa/web'],
      publicKeyPem,
    });
    const ca = issueLeaf(issuer, { uriSans: [EAST_ID], isCa: true, publicKeyPem });
    expect(gatewayIdentityOf(twoUris.certPem)).toBeUndefined();
    expect(gatewayIdentityOf(workload.certPem)).toBeUndefined();
    expect(gatewayIdentityOf(ca.certPem)).toBeUndefined();
    expect(gatewayIdentityOf('garbage')).toBeUndefined();
  });
});

describe('arbitrary leaves for tests', () => {
  it('certifies a given public key without returning a private key', () => {
    const gateway = testGatewayCertificate('west');
    const publicKeyPem = createPublicKey(gateway.keyPem).export({ type: 'spki', format: 'pem' }).toString();
    const leaf = issueLeaf(testPki().issuers.west, { uriSans: [WEST_ID], publicKeyPem });
    expect(leaf.keyPem).toBeUndefined();
    expect(certificateInfo(leaf.certPem).uriSans).toEqual([WEST_ID]);
  });

  it('mints expired and not-yet-valid leaves that verifyChain refuses with the reason', () => {
    const { anchor, issuers } = testPki();
    const hour = 3600_000;
    const { publicKeyPem } = testLeafKey();
    const expired = issueLeaf(issuers.east, {
      publicKeyPem,
      uriSans: [EAST_ID],
      notBefore: new Date(Date.now() - 2 * hour),
      notAfter: new Date(Date.now() - hour),
    });
    const future = issueLeaf(issuers.east, {
      publicKeyPem,
      uriSans: [EAST_ID],
      dnsSans: ['gateway.east.example'],
      notBefore: new Date(Date.now() + hour),
      notAfter: new Date(Date.now() + 2 * hour),
    });
    expect(certificateInfo(future.certPem).dnsSans).toEqual(['gateway.east.example']);
    const expiredVerdict = verifyChain(expired.certPem, [issuers.east.certPem], [anchor.certPem]);
    expect(expiredVerdict).toMatchObject({ ok: false, reason: expect.stringMatching(/expired at/) });
    const futureVerdict = verifyChain(future.certPem, [issuers.east.certPem], [anchor.certPem]);
    expect(futureVerdict).toMatchObject({ ok: false, reason: expect.stringMatching(/not valid before/) });
    expect(
      verifyChain(
        future.certPem,
        [issuers.east.certPem],
        [anchor.certPem],
        new Date(Date.now() + 1.5 * hour),
      ),
    ).toEqual({ ok: true });
  });

  it('verifyChain refuses a foreign issuer, a missing intermediate and garbage', () => {
    const { anchor, issuers } = testPki();
    const foreign = issueGatewayCertificate(foreignTestPki().issuers.east, {
      trustDomain: TEST_TRUST_DOMAIN,
      cluster: 'east',
    });
    const good = testGatewayCertificate('east');
    expect(verifyChain(foreign.certPem, [foreignTestPki().issuers.east.certPem], [anchor.certPem]).ok).toBe(
      false,
    );
    expect(verifyChain(foreign.certPem, [issuers.east.certPem], [anchor.certPem]).ok).toBe(false);
    expect(verifyChain(good.certPem, [], [anchor.certPem])).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/not signed by any given trust anchor/),
    });
    expect(verifyChain('nope', [], [anchor.certPem])).toMatchObject({
      ok: false,
      reason: expect.any(String),
    });
  });
});

describe('accepted by OpenSSL', () => {
  let dir: string | undefined;
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('openssl verify -CAfile anchor -untrusted issuer leaf', async () => {
    dir = await mkdtemp(join(tmpdir(), 'isthmus-ca-'));
    const { anchor, issuers } = testPki();
    // A leaf with no subject at all: OpenSSL then requires the SAN to be critical.
    const bare = issueLeaf(issuers.east, { uriSans: [EAST_ID], publicKeyPem: testLeafKey().publicKeyPem });
    await writeFile(join(dir, 'ca.crt'), anchor.certPem);
    await writeFile(join(dir, 'issuer.crt'), issuers.east.certPem);
    await writeFile(join(dir, 'leaf.crt'), testGatewayCertificate('east').certPem);
    await writeFile(join(dir, 'bare.crt'), bare.certPem);
    const args = ['verify', '-purpose', 'sslserver', '-CAfile', join(dir, 'ca.crt'), '-untrusted'];
    const { stdout } = await run('openssl', [...args, join(dir, 'issuer.crt'), join(dir, 'leaf.crt')]);
    expect(stdout).toContain('leaf.crt: OK');
    const client = await run('openssl', [
      ...args.with(2, 'sslclient'),
      join(dir, 'issuer.crt'),
      join(dir, 'leaf.crt'),
      join(dir, 'bare.crt'),
    ]);
    expect(client.stdout).toContain('bare.crt: OK');
    await expect(
      run('openssl', ['verify', '-CAfile', join(dir, 'ca.crt'), join(dir, 'leaf.crt')]),
    ).rejects.toThrow();
  });
});

describe('serial numbers', () => {
  it('are positive, minimal DER INTEGERs of 16 bytes: the first byte is 0x40-0x7f', () => {
    const firsts = new Set<number>();
    for (let i = 0; i < 4000; i++) {
      const hex = serialNumber();
      expect(hex).toMatch(/^[0-9a-f]{32}$/);
      const first = Number.parseInt(hex.slice(0, 2), 16);
      expect(first).toBeGreaterThanOrEqual(0x40);
      expect(first).toBeLessThanOrEqual(0x7f);
      firsts.add(first);
    }
    // All 64 first bytes turn up: the bits left are random.
    expect(firsts.size).toBe(64);
  });

  it('why: node-forge drops one redundant leading zero but not two, and OpenSSL refuses the rest', () => {
    // forge reads RSA certificates only.
    const rsaLeaf = issueGatewayCertificate(testPki().issuers.east, {
      trustDomain: TEST_TRUST_DOMAIN,
      cluster: 'east',
      keyType: 'rsa-2048',
    });
    const issued = forge.pki.certificateFromPem(rsaLeaf.certPem);
    issued.serialNumber = `0000${'11'.repeat(14)}`;
    issued.sign(forge.pki.privateKeyFromPem(testPki().issuers.east.keyPem), forge.md.sha256.create());
    expect(() => new X509Certificate(forge.pki.certificateToPem(issued))).toThrow(/illegal padding/);
    expect(new X509Certificate(testGatewayCertificate('east').certPem).serialNumber).toMatch(/^[4-7]/);
  });
});

describe('accepted by node:tls', () => {
  const servers: tls.Server[] = [];
  const sockets: tls.TLSSocket[] = [];
  afterAll(() => {
    for (const s of sockets) s.destroy();
    for (const s of servers) s.close();
  });

  async function handshake(clientCluster: 'east' | 'west', clientPki = testPki()) {
    const server = testGatewayCertificate('west');
    const anchor = testPki().anchor.certPem;
    const clientCert =
      clientPki === testPki()
        ? testGatewayCertificate(clientCluster)
        : issueGatewayCertificate(clientPki.issuers[clientCluster], {
            trustDomain: TEST_TRUST_DOMAIN,
            cluster: clientCluster,
          });
    const srv = tls.createServer({
      key: server.keyPem,
      cert: server.chainPem,
      ca: anchor,
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.3',
      ALPNProtocols: ['h2'],
    });
    servers.push(srv);
    const peerOnServer = new Promise<string | undefined>((resolve) => {
      srv.on('secureConnection', (s) => {
        sockets.push(s);
        resolve(gatewayIdentityOf(pemOf(s.getPeerCertificate().raw)));
      });
    });
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
    const port = (srv.address() as { port: number }).port;
    const socket = tls.connect({
      host: '127.0.0.1',
      port,
      key: clientCert.keyPem,
      cert: clientCert.chainPem,
      ca: anchor,
      minVersion: 'TLSv1.3',
      ALPNProtocols: ['h2'],
      // Gateways authenticate each other by SPIFFE ID, not by host name.
      checkServerIdentity: () => undefined,
    });
    sockets.push(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('secureConnect', resolve);
      socket.once('error', reject);
    });
    // TLS 1.3 sends the server's verdict on the client certificate after the client's Finished.
    const peerOnClient = gatewayIdentityOf(pemOf(socket.getPeerCertificate().raw));
    return { socket, peerOnClient, peerOnServer };
  }

  it('mutual TLS 1.3 between two gateways of one trust anchor', async () => {
    const { socket, peerOnClient, peerOnServer } = await handshake('east');
    expect(socket.getProtocol()).toBe('TLSv1.3');
    expect(socket.alpnProtocol).toBe('h2');
    expect(peerOnClient).toBe(WEST_ID);
    expect(await peerOnServer).toBe(EAST_ID);
  });

  it('a client certificate of a foreign anchor is refused by the server', async () => {
    const { socket } = await handshake('east', foreignTestPki());
    const closed = await new Promise<string>((resolve) => {
      socket.once('error', (err) => resolve(String((err as NodeJS.ErrnoException).code ?? err.message)));
      socket.once('close', () => resolve('closed'));
      socket.write('hello');
    });
    expect(closed).toMatch(/ALERT|closed|ECONNRESET/);
  });
});

function pemOf(der: Buffer): string {
  const b64 = der.toString('base64').replace(/(.{64})/g, '$1\n');
  return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;
}

describe('names', () => {
  it.each([
    ['spiffe://cluster.local/cluster/east/gateway', { trustDomain: 'cluster.local', cluster: 'east' }],
    ['spiffe://example.org/cluster/us-1/gateway', { trustDomain: 'example.org', cluster: 'us-1' }],
    ['spiffe://cluster.local/cluster/east', undefined],
    ['spiffe://cluster.local/cluster/east/gateway/x', undefined],
    ['spiffe://cluster.local/ns/east/gateway', undefined],
    ['spiffe://Cluster.Local/cluster/east/gateway', undefined],
    ['spiffe://cluster.local/cluster/../gateway', undefined],
    ['spiffe://cluster.local/cluster//gateway', undefined],
    ['https://cluster.local/cluster/east/gateway', undefined],
    ['spiffe://cluster.local', undefined],
  ])('parseSpiffeGatewayIdentity(%s)', (uri, expected) => {
    expect(parseSpiffeGatewayIdentity(uri)).toEqual(expected);
  });

  it('subjectAltName parsing decodes quoted values instead of splitting on their commas', () => {
    expect(
      parseSubjectAltName('DNS:a.example, URI:spiffe://x/y, URI:"spiffe://x/a, URI:spiffe://evil"'),
    ).toEqual([
      { type: 'DNS', value: 'a.example' },
      { type: 'URI', value: 'spiffe://x/y' },
      { type: 'URI', value: 'spiffe://x/a, URI:spiffe://evil' },
    ]);
  });
});

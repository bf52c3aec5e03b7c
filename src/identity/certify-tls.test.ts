/**
 * Certify over TLS, on loopback with real certificates: the identity service serves with a
 * certificate it mints from its issuer (its SPIFFE ID, the Service's names), renews it when the
 * issuer is reloaded and at ~70 % of its life without dropping a call, and answers the kubelet's
 * plaintext health checks on a port of their own. A gateway sends its token only to its own
 * cluster's identity service: another CA's server, a gateway certificate, another cluster's
 * identity or a plaintext server are refused in the handshake, at once, with the reason.
 */
import { X509Certificate } from 'node:crypto';
import { ServerCredentials, status } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { isIsthmusError } from '../errors.js';
import { waitFor } from '../wait-for.js';
import { createIssuer, gatewayIdentityOf, type KeyPairPem } from './ca.js';
import { certificateInfo } from './certificate-info.js';
import { type IdentityServiceTrust, identityServerProblem, requestCertificate } from './certify-client.js';
import { type IdentityServer, startIdentityServer, type TokenReviewer } from './certify-service.js';
import { normaliseSerial } from './crl.js';
import { serverNameOptions, tlsFailure } from './grpc-tls.js';
import { checkHealth, ServingStatus } from './health.js';
import { joinPem, splitPem } from './pem.js';
import { RevocationList } from './revocation.js';
import type { RotationPolicy } from './rotation-policy.js';
import { identityDnsNames, type ServingCertificate } from './serving-cert.js';
import { identityServiceId, parseSpiffeGatewayIdentity } from './spiffe.js';
import {
  certifyOn,
  foreignTestPki,
  presentedChain,
  servingCredentials,
  startFakeIdentity,
  TEST_TRUST_DOMAIN,
  testCrlBundle,
  testIdentityClient,
  testIdentityTrust,
  testPki,
  testServingCertificate,
} from './testing.js';

const EAST_GATEWAY = 'spiffe://cluster.local/cluster/east/gateway';
const EAST_IDENTITY = 'spiffe://cluster.local/cluster/east/identity';
const SERVER = testIdentityTrust('east');
const reviewer: TokenReviewer = async () => ({
  authenticated: true,
  username: 'system:serviceaccount:isthmus-system:isthmus-gateway',
});

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function identity(
  opts: {
    issuer?: KeyPairPem | (() => KeyPairPem);
    serving?: {
      lifetimeMs?: number;
      policy?: Partial<RotationPolicy>;
      onRenewed?: (c: ServingCertificate) => void;
    };
  } = {},
): Promise<{ server: IdentityServer; address: string }> {
  const server = await startIdentityServer({
    issuer: opts.issuer ?? testPki().issuers.east,
    trustDomain: TEST_TRUST_DOMAIN,
    cluster: 'east',
    reviewer,
    host: '127.0.0.1',
    port: 0,
    health: { host: '127.0.0.1', port: 0 },
    serving: {
      dnsNames: identityDnsNames({
        serviceName: 'isthmus-identity',
        namespace: 'isthmus-system',
        clusterDomain: 'cluster.local',
      }),
      ...opts.serving,
    },
  });
  cleanups.push(() => server.close());
  return { server, address: `127.0.0.1:${server.port}` };
}

/** A Certify service that records every token it is sent and answers nothing useful. */
async function fakeIdentity(creds: ServerCredentials): Promise<{ address: string; tokens: string[] }> {
  const fake = await startFakeIdentity(creds);
  cleanups.push(() => fake.close());
  return fake;
}

const tlsWith = servingCredentials;

async function failure(opts: Parameters<typeof requestCertificate>[0]) {
  return requestCertificate(opts).then(
    () => {
      throw new Error('expected the request to fail');
    },
    (err: unknown) => err as Error & { code: string; terminal: boolean; cause: { code: number } },
  );
}

const fingerprintOf = (pem: string) => new X509Certificate(pem).fingerprint256;

describe('Certify over TLS', () => {
  it("gives the gateway its certificate over TLS; the server presents the identity service's SPIFFE ID and the Service's names, chained to the anchor", async () => {
    const { server, address } = await identity();
    const issued = await requestCertificate({ address, token: 'token', server: SERVER });
    expect(gatewayIdentityOf(issued.certPem)).toBe(EAST_GATEWAY);

    const { leaf, issuer } = await presentedChain(address, testPki().anchor.certPem);
    const info = certificateInfo(leaf.toString());
    expect(info.uriSans).toEqual([EAST_IDENTITY]);
    expect(info.dnsSans).toEqual([
      'isthmus-identity',
      'isthmus-identity.isthmus-system',
      'isthmus-identity.isthmus-system.svc',
      'isthmus-identity.isthmus-system.svc.cluster.local',
    ]);
    expect(info.isCa).toBe(false);
    expect(issuer?.fingerprint256).toBe(fingerprintOf(testPki().issuers.east.certPem));
    expect(normaliseSerial(leaf.serialNumber)).toBe(server.servingCertificate().serial);
    // 24 h by default, as the gateway leaves.
    expect(server.servingCertificate().notAfter.getTime() - Date.now()).toBeGreaterThan(23 * 3600_000);
  });

  it('verifies the server against every anchor of a bundle, as during an anchor rotation', async () => {
    const bundle = joinPem([foreignTestPki().anchor.certPem, testPki().anchor.certPem]);
    const ours = await identity();
    const theirs = await identity({ issuer: foreignTestPki().issuers.east });
    for (const { address } of [ours, theirs]) {
      const issued = await requestCertificate({
        address,
        token: 'token',
        server: { anchorPem: bundle, serverId: EAST_IDENTITY },
      });
      expect(gatewayIdentityOf(issued.certPem)).toBe(EAST_GATEWAY);
    }
  });

  it.each([
    [
      'whose certificate chains to a foreign CA',
      () => tlsWith(testServingCertificate(foreignTestPki().issuers.east, [EAST_IDENTITY])),
      /its certificate does not chain to our trust anchor \(unable to get local issuer certificate\)/,
    ],
    [
      'that holds a gateway identity',
      () => tlsWith(testServingCertificate(testPki().issuers.east, [EAST_GATEWAY])),
      /it presents spiffe:\/\/cluster\.local\/cluster\/east\/gateway, not the identity service's spiffe:\/\/cluster\.local\/cluster\/east\/identity/,
    ],
    [
      "of another cluster's identity service",
      () =>
        tlsWith(
          testServingCertificate(testPki().issuers.west, [identityServiceId(TEST_TRUST_DOMAIN, 'west')]),
        ),
      /it presents spiffe:\/\/cluster\.local\/cluster\/west\/identity, not the identity service's spiffe:\/\/cluster\.local\/cluster\/east\/identity/,
    ],
    [
      'in plaintext',
      () => ServerCredentials.createInsecure(),
      /it does not speak TLS \(wrong version number\): a plaintext server/,
    ],
  ])(
    'refuses a server %s: at once, retryable, with the reason, and never sends it the token',
    async (_what, creds, reason) => {
      const fake = await fakeIdentity(creds());
      // A deadline far off: the refusal, not the deadline, ends the call (UNAVAILABLE, not DEADLINE_EXCEEDED).
      const err = await failure({
        address: fake.address,
        token: 'secret-token',
        server: SERVER,
        timeoutMs: 50_000,
      });
      expect(isIsthmusError(err, 'IDENTITY_UNAVAILABLE')).toBe(true);
      expect(err.terminal).toBe(false);
      expect(err.cause.code).toBe(status.UNAVAILABLE);
      expect(err.message).toMatch(new RegExp(`^identity service ${fake.address}: `));
      expect(err.message).toMatch(reason);
      expect(fake.tokens).toEqual([]);
    },
  );

  describe("against the gateway's CRL", () => {
    /** A serving certificate of east's identity and its leaf, a new serial each time. */
    const serving = () => {
      const c = testServingCertificate(testPki().issuers.east, [EAST_IDENTITY]);
      return { ...c, leaf: new X509Certificate(splitPem(c.chainPem)[0]!) };
    };
    /** What the gateway requires, with `bundle` as its CRL. */
    const trustWith = (bundle: string): IdentityServiceTrust => {
      const list = RevocationList.fromPem(bundle, SERVER.anchorPem);
      return { ...SERVER, checkPeerCertificate: (leaf, issuer) => list.check(leaf, issuer) };
    };

    it.each([
      [
        "whose serving certificate its issuer's CRL revokes",
        (leaf: X509Certificate) => testCrlBundle(testPki().issuers.east, [leaf.serialNumber]),
        /its serving certificate is refused: certificate serial [0-9A-F]+ is revoked by its issuer's CRL \(keyCompromise, since .*\) \(the identity service replaces it once it loads the same CRL; a revoked issuer must be renewed first\)$/,
      ],
      [
        "whose issuer the trust anchor's CRL revokes",
        // Not bundled with the issuer: the one the server sent in its chain is checked.
        () =>
          testCrlBundle(testPki().anchor, [new X509Certificate(testPki().issuers.east.certPem).serialNumber]),
        /its serving certificate is refused: issuer "CN=identity\.east\.cluster\.local.*" \(serial [0-9A-F]+\) is revoked by the trust anchor's CRL \(keyCompromise/,
      ],
    ])(
      'refuses a server %s: at once, with the reason, and never sends it the token',
      async (_what, crl, reason) => {
        const cert = serving();
        const fake = await fakeIdentity(tlsWith(cert));
        const err = await failure({
          address: fake.address,
          token: 'secret-token',
          server: trustWith(crl(cert.leaf)),
          timeoutMs: 50_000,
        });
        expect(isIsthmusError(err, 'IDENTITY_UNAVAILABLE')).toBe(true);
        expect(err.cause.code).toBe(status.UNAVAILABLE);
        expect(err.message).toMatch(new RegExp(`^identity service ${fake.address}: `));
        expect(err.message).toMatch(reason);
        expect(fake.tokens).toEqual([]);
      },
    );

    it('sends the token to a server whose certificate the CRL does not revoke, and is certified', async () => {
      const cert = serving();
      const fake = await fakeIdentity(tlsWith(cert));
      const crl = testCrlBundle(testPki().issuers.east, ['4a11ce']);
      // The handshake passed: the fake's own answer, with the token it was sent.
      const err = await failure({ address: fake.address, token: 'secret-token', server: trustWith(crl) });
      expect(err.message).toMatch(/a fake identity service/);
      expect(fake.tokens).toEqual(['secret-token']);

      const { address } = await identity();
      const issued = await requestCertificate({ address, token: 'token', server: trustWith(crl) });
      expect(gatewayIdentityOf(issued.certPem)).toBe(EAST_GATEWAY);
    });
  });

  it("the kubelet's plaintext health check answers SERVING on the health port; the Certify port speaks TLS only", async () => {
    const { server, address } = await identity();
    expect(await checkHealth(`127.0.0.1:${server.healthPort}`)).toBe(ServingStatus.SERVING);
    expect(
      await checkHealth(`127.0.0.1:${server.healthPort}`, { service: 'isthmus.identity.v1.Identity' }),
    ).toBe(ServingStatus.SERVING);
    await expect(checkHealth(address, { timeoutMs: 1000 })).rejects.toMatchObject({
      code: status.DEADLINE_EXCEEDED,
    });
  });
});

describe('the serving certificate', () => {
  it('is renewed from the reloaded issuer: new connections get the new one, an open one keeps answering', async () => {
    let issuer = testPki().issuers.east;
    const { server, address } = await identity({ issuer: () => issuer });
    const before = await presentedChain(address, testPki().anchor.certPem);
    const client = testIdentityClient(address);
    cleanups.push(() => client.close());
    await certifyOn(client);

    issuer = createIssuer(testPki().anchor, { cluster: 'east', trustDomain: TEST_TRUST_DOMAIN });
    const renewed = await server.renewServingCertificate();

    const after = await presentedChain(address, testPki().anchor.certPem);
    expect(normaliseSerial(after.leaf.serialNumber)).toBe(renewed.serial);
    expect(renewed.serial).not.toBe(normaliseSerial(before.leaf.serialNumber));
    expect(after.issuer?.fingerprint256).toBe(fingerprintOf(issuer.certPem));
    // The connection made before the renewal still answers, and signs with the new issuer.
    const onOld = await certifyOn(client);
    expect(fingerprintOf(splitPem(onOld.chainPem)[1]!)).toBe(fingerprintOf(issuer.certPem));
    const fresh = await requestCertificate({ address, token: 'token', server: SERVER });
    expect(gatewayIdentityOf(fresh.certPem)).toBe(EAST_GATEWAY);
  });

  it('is renewed on its own, early in its life, while Certify keeps answering', async () => {
    const renewals: ServingCertificate[] = [];
    // Renewed at ~20 % of a 10 s life (the policy's fraction, 70 % by default, is rotation-policy's
    // test): each renewal (an RSA key, a signature) has some 8 s before the certificate in force
    // expires, however slow a loaded machine makes it.
    const { server, address } = await identity({
      serving: { lifetimeMs: 10_000, policy: { renewAtFraction: 0.2 }, onRenewed: (c) => renewals.push(c) },
    });
    const first = server.servingCertificate().serial;
    await requestCertificate({ address, token: 'token', server: SERVER });
    await waitFor('a renewal of the serving certificate', () => renewals.length > 0, 15_000);
    expect(renewals[0]!.serial).not.toBe(first);
    // Whatever has been renewed since, a new connection sees the certificate in force.
    await waitFor(
      'a new connection to see the certificate in force',
      async () =>
        normaliseSerial((await presentedChain(address, SERVER.anchorPem)).leaf.serialNumber) ===
        server.servingCertificate().serial,
      10_000,
    );
    const issued = await requestCertificate({ address, token: 'token', server: SERVER });
    expect(gatewayIdentityOf(issued.certPem)).toBe(EAST_GATEWAY);
  });
});

describe('pure parts', () => {
  it('the identity SPIFFE ID is never a gateway identity', () => {
    expect(identityServiceId('cluster.local', 'east')).toBe(EAST_IDENTITY);
    expect(parseSpiffeGatewayIdentity(EAST_IDENTITY)).toBeUndefined();
  });

  it('identityServerProblem wants exactly the one URI SAN, on a non-CA certificate', () => {
    const cert = (uris: string[]) =>
      new X509Certificate(splitPem(testServingCertificate(testPki().issuers.east, uris).chainPem)[0]!);
    expect(identityServerProblem(cert([EAST_IDENTITY]), EAST_IDENTITY)).toBeUndefined();
    expect(identityServerProblem(cert([EAST_IDENTITY, EAST_GATEWAY]), EAST_IDENTITY)).toMatch(
      /it presents .*identity, .*gateway, not the identity service's/,
    );
    expect(identityServerProblem(cert([`${EAST_IDENTITY}-x`]), EAST_IDENTITY)).toMatch(/identity-x, not/);
    expect(identityServerProblem(new X509Certificate(testPki().issuers.east.certPem), EAST_IDENTITY)).toMatch(
      /a CA certificate/,
    );
  });

  it("refuses east's identity ID signed by west's issuer: a stolen issuer key of one cluster must not serve Certify for another", () => {
    const byWest = new X509Certificate(
      splitPem(testServingCertificate(testPki().issuers.west, [EAST_IDENTITY]).chainPem)[0]!,
    );
    expect(identityServerProblem(byWest, EAST_IDENTITY)).toMatch(
      /signed by cluster west's issuer, not east's/,
    );
  });

  it.each([
    [
      { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', message: 'unable to verify the first certificate' },
      true,
      /does not chain to our trust anchor \(unable to verify the first certificate\)/,
    ],
    [
      { code: 'CERT_HAS_EXPIRED', message: 'certificate has expired' },
      true,
      /^its certificate is refused: certificate has expired$/,
    ],
    [
      {
        code: 'ERR_SSL_WRONG_VERSION_NUMBER',
        message:
          '80EC0224:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:../deps/openssl/ssl/record/ssl3_record.c:350:',
      },
      true,
      /^it does not speak TLS \(wrong version number\)/,
    ],
    [{ code: 'ECONNRESET', message: 'socket hang up' }, false, /TLS handshake failed: socket hang up/],
  ])('tlsFailure(%o) → definitive %s', (err, definitive, reason) => {
    const failure = tlsFailure(Object.assign(new Error(err.message), { code: err.code }));
    expect(failure.definitive).toBe(definitive);
    expect(failure.reason).toMatch(reason);
  });

  it('serverNameOptions names an IP address only (RFC 6066 allows no IP in SNI)', () => {
    expect(serverNameOptions('127.0.0.2:8080', 'isthmus-identity')).toEqual({
      'grpc.ssl_target_name_override': 'isthmus-identity',
    });
    expect(serverNameOptions('[::1]:8080', 'isthmus-identity')).toEqual({
      'grpc.ssl_target_name_override': 'isthmus-identity',
    });
    expect(
      serverNameOptions('isthmus-identity.isthmus-system.svc.cluster.local:8080', 'isthmus-identity'),
    ).toEqual({});
  });
});

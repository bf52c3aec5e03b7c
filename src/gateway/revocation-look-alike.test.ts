/**
 * A revoked issuer cannot hide behind a look-alike of itself, on every path the gateway's
 * handshakeRefusal guards: the ingress admitting a client, the session pool trusting a server, and
 * the identity service the gateway sends its token to. Whoever holds the revoked issuer's key sends
 * [leaf, an expired look-alike of the issuer (same Name and key, another serial), the issuer]:
 * OpenSSL verifies through the real issuer, Node shows the look-alike, which no CRL lists. Real TLS
 * over loopback; an honest chain still passes under the same CRL.
 */
import { X509Certificate } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { isIsthmusError } from '../errors.js';
import { requestCertificate } from '../identity/certify-client.js';
import { createCrl } from '../identity/crl.js';
import { RevocationList } from '../identity/revocation.js';
import { identityServiceId } from '../identity/spiffe.js';
import {
  servingCredentials,
  startFakeIdentity,
  TEST_TRUST_DOMAIN,
  testIdentityTrust,
  testPki,
  testServingCertificate,
} from '../identity/testing.js';
import { EXPIRED, lookAlike, withAfterLeaf } from '../identity/testing-look-alike.js';
import { type CrlWatcher, type HandshakeRefusal, handshakeRefusal } from './crl-watch.js';
import type { IngressOptions } from './ingress.js';
import { echo, startTcpBackend } from './test-support/backends.js';
import { authorizeClusters, type Harness, startHarness } from './test-support/harness.js';
import { dataPathLifecycle } from './test-support/lifecycle.js';
import { type TestPki, TRUST_DOMAIN } from './test-support/pki.js';
import { waitFor } from './test-support/wait.js';
import type { TunnelSecureContext } from './tunnel-settings.js';

const ECHO = 'echo.test.svc.cluster.local:7000';
const lifecycle = dataPathLifecycle();
const { cleanups } = lifecycle;
let pki: TestPki;
beforeAll(() => {
  pki = lifecycle.pki();
});

/**
 * The gateway's check of its TLS peers over a CRL bundle whose anchor CRL revokes `issuers`, with
 * their certificates, as `isthmus certs revoke` writes it (a TLS server may not see its client's
 * issuer: Node 24 does not show it).
 */
function refusalRevoking(
  anchor: { certPem: string; keyPem: string },
  ...issuers: string[]
): HandshakeRefusal {
  const crl = createCrl({
    issuerCertPem: anchor.certPem,
    issuerKeyPem: anchor.keyPem,
    revoked: issuers.map((pem) => ({
      serial: new X509Certificate(pem).serialNumber,
      revokedAt: new Date(),
      reason: 'keyCompromise',
    })),
    crlNumber: 1n,
  });
  const list = RevocationList.fromPem(crl + issuers.join(''), anchor.certPem);
  const watcher: CrlWatcher = { current: () => list, present: () => true, stop: () => {} };
  return handshakeRefusal(watcher, TRUST_DOMAIN);
}

/** `cluster`'s gateway certificate with the expired look-alike of its issuer sent right after the leaf. */
function behindLookAlike(cluster: string): TunnelSecureContext {
  const honest = pki.gateway(cluster);
  return { ...honest, cert: withAfterLeaf(honest.cert, lookAlike(pki.issuer(cluster), EXPIRED)) };
}

/** An ingress ("west") admitting east's gateways unless `refusal` refuses them, as run-gateway.ts wires it. */
function admitting(refusal: HandshakeRefusal): IngressOptions['authorizePeer'] {
  const byIdentity = authorizeClusters(['east']);
  return (identity, cert, issuer) => {
    const reason = cert && refusal(cert, issuer);
    return reason ? { ok: false, reason } : byIdentity(identity, cert, issuer);
  };
}

/** A tunnel pair ("east" dialling "west") whose ingress exports an echo service. */
async function harness(opts: Parameters<typeof startHarness>[1]): Promise<Harness> {
  const backend = await startTcpBackend(echo);
  cleanups.push(() => backend.close());
  const h = await startHarness(pki, opts);
  cleanups.push(() => h.close());
  h.exportService('test', 'echo', 7000, [backend.port]);
  return h;
}

/** What opening a tunnel through `h` came to: 'tunnel' (a session made), or the refusal. */
async function outcome(h: Harness): Promise<string> {
  return h.pool.openTunnel(h.ingress.address, ECHO).then(
    (tunnel) => {
      tunnel.destroy();
      return 'tunnel';
    },
    (err: Error) => {
      expect(isIsthmusError(err)).toBe(true);
      return err.message;
    },
  );
}

const ISSUER_REVOKED =
  /issuer "CN=identity\.east\.cluster\.local" \(serial [0-9A-F]+\) is revoked by the trust anchor's CRL/;
const LOOK_ALIKE_REFUSED =
  /its chain shows "CN=identity\.east\.cluster\.local" \(serial [0-9A-F]+\) above certificate serial [0-9A-F]+, which the trust anchor did not sign/;

describe('a revoked issuer behind an expired look-alike of itself', () => {
  it("the ingress refuses a client gateway that sends it; east's honest chain is admitted under the same CRL", async () => {
    const refusal = refusalRevoking(pki.anchor, pki.issuer('east').certPem);
    const refused = await harness({
      authorizePeer: admitting(refusal),
      pool: { secureContext: () => behindLookAlike('east') },
    });
    const said = await outcome(refused);
    expect(said).toMatch(/refused this cluster's gateway: /);
    // Node 20 and 22 show the ingress the look-alike, sent right after the leaf; Node 24 shows no
    // issuer, and the bundled issuer that signed the leaf is the one judged.
    expect(said).toMatch(new RegExp(`${LOOK_ALIKE_REFUSED.source}|${ISSUER_REVOKED.source}`));
    await waitFor(() => refused.ingress.sessions() === 0, 'no session admitted');

    // The same client, honest: refused for the revoked issuer itself.
    const honestRevoked = await harness({ authorizePeer: admitting(refusal) });
    expect(await outcome(honestRevoked)).toMatch(ISSUER_REVOKED);
    // Another cluster's issuer revoked: east's honest chain is admitted.
    const admitted = await harness({
      authorizePeer: admitting(refusalRevoking(pki.anchor, pki.issuer('north').certPem)),
    });
    expect(await outcome(admitted)).toBe('tunnel');
    expect(admitted.ingress.sessions()).toBe(1);
  });

  it('the session pool refuses a server gateway that sends it; an honest server is trusted under the same CRL', async () => {
    const refusal = refusalRevoking(pki.anchor, pki.issuer('west').certPem);
    const refused = await harness({
      ingressContext: behindLookAlike('west'),
      pool: { checkPeerCertificate: refusal },
    });
    expect(await outcome(refused)).toMatch(
      /its chain shows "CN=identity\.west\.cluster\.local" \(serial [0-9A-F]+\) above certificate serial [0-9A-F]+, which the trust anchor did not sign/,
    );
    expect(refused.pool.sessionCount()).toBe(0);

    const trusted = await harness({
      pool: { checkPeerCertificate: refusalRevoking(pki.anchor, pki.issuer('north').certPem) },
    });
    expect(await outcome(trusted)).toBe('tunnel');
    expect(trusted.pool.sessionCount()).toBe(1);
  });

  it('Certify: the gateway does not send its token to an identity service that sends it; an honest one gets it', async () => {
    const id = testPki();
    const serving = testServingCertificate(id.issuers.east, [identityServiceId(TEST_TRUST_DOMAIN, 'east')]);
    const lookAlikeChain = withAfterLeaf(serving.chainPem, lookAlike(id.issuers.east, EXPIRED));
    const server = (refusal: HandshakeRefusal) => ({
      ...testIdentityTrust('east'),
      checkPeerCertificate: refusal,
    });
    const certify = async (chainPem: string, refusal: HandshakeRefusal) => {
      const fake = await startFakeIdentity(servingCredentials({ chainPem, keyPem: serving.keyPem }));
      cleanups.push(() => fake.close());
      const err = await requestCertificate({
        address: fake.address,
        token: 'secret-token',
        server: server(refusal),
        timeoutMs: 30_000,
      }).then(
        () => new Error('a fake identity service certified'),
        (e: Error) => e,
      );
      return { message: err.message, tokens: fake.tokens };
    };

    const eastRevoked = refusalRevoking(id.anchor, id.issuers.east.certPem);
    const hidden = await certify(lookAlikeChain, eastRevoked);
    expect(hidden.message).toMatch(
      /its serving certificate is refused: its chain shows "CN=identity\.east\.cluster\.local" .*, which the trust anchor did not sign/,
    );
    expect(hidden.tokens).toEqual([]);
    const revoked = await certify(serving.chainPem, eastRevoked);
    expect(revoked.message).toMatch(/is revoked by the trust anchor's CRL/);
    expect(revoked.tokens).toEqual([]);

    // West's issuer revoked: east's honest identity service is sent the token (and answers as a fake).
    const honest = await certify(serving.chainPem, refusalRevoking(id.anchor, id.issuers.west.certPem));
    expect(honest.message).toMatch(/a fake identity service/);
    expect(honest.tokens).toEqual(['secret-token']);
  });
});

/**
 * Certificates for the data-path tests, minted with src/identity: one trust anchor, one issuer per
 * cluster, gateway leaves; plus the misfits the refusal tests need (foreign CA, expired, not yet
 * valid, non-gateway identity). Key generation is the slow part, so build once per test file.
 */
import forge from 'node-forge';
import {
  chainOf,
  createIssuer,
  createTrustAnchor,
  issueGatewayCertificate,
  issueLeaf,
  type KeyPairPem,
} from '../../identity/ca.js';
import { generateRsaKey } from '../../identity/keys.js';
import type { TunnelSecureContext } from '../tunnel-settings.js';

export const TRUST_DOMAIN = 'cluster.local';

export interface TestPki {
  anchor: KeyPairPem;
  issuer(cluster: string): KeyPairPem;
  /** The gateway certificate of `cluster` (minted once), as the ingress and pool take it. */
  gateway(cluster: string): TunnelSecureContext;
  /** A new gateway certificate of `cluster` (rotation). */
  freshGateway(cluster: string): TunnelSecureContext;
  /** A leaf of `cluster`'s issuer with arbitrary URI SANs and validity. */
  leaf(cluster: string, opts: { uriSans: string[]; notBefore?: Date; notAfter?: Date }): TunnelSecureContext;
  /**
   * A leaf of `cluster`'s issuer valid from a minute ago until `notAfter`, at least `validForMs`
   * after its key was made (not before: key generation can take seconds on a loaded machine) and on
   * a whole second, so the certificate ends exactly then (X.509 times are whole seconds).
   */
  shortLived(
    cluster: string,
    opts: { uriSans: string[]; validForMs: number },
  ): { context: TunnelSecureContext; notAfter: Date };
  /** A gateway certificate from an unrelated trust anchor, presenting `cluster`'s identity. */
  foreign(cluster: string): TunnelSecureContext;
}

export function makePki(): TestPki {
  const anchor = createTrustAnchor({ trustDomain: TRUST_DOMAIN });
  const issuers = new Map<string, KeyPairPem>();
  const issuer = (cluster: string): KeyPairPem => {
    let i = issuers.get(cluster);
    if (!i) {
      i = createIssuer(anchor, { cluster, trustDomain: TRUST_DOMAIN });
      issuers.set(cluster, i);
    }
    return i;
  };
  let foreignAnchor: KeyPairPem | undefined;
  const gateways = new Map<string, TunnelSecureContext>();
  const freshGateway = (cluster: string): TunnelSecureContext => {
    const cert = issueGatewayCertificate(issuer(cluster), { trustDomain: TRUST_DOMAIN, cluster });
    return { key: cert.keyPem, cert: cert.chainPem, ca: anchor.certPem };
  };
  return {
    anchor,
    issuer,
    freshGateway,
    gateway(cluster) {
      let ctx = gateways.get(cluster);
      if (!ctx) {
        ctx = freshGateway(cluster);
        gateways.set(cluster, ctx);
      }
      return ctx;
    },
    leaf(cluster, opts) {
      const iss = issuer(cluster);
      const leaf = issueLeaf(iss, opts);
      return { key: leaf.keyPem!, cert: chainOf(leaf.certPem, iss), ca: anchor.certPem };
    },
    shortLived(cluster, opts) {
      const iss = issuer(cluster);
      const key = generateRsaKey();
      const notAfter = wholeSecondAfter(opts.validForMs);
      const leaf = issueLeaf(iss, {
        uriSans: opts.uriSans,
        notBefore: new Date(Date.now() - 60_000),
        notAfter,
        publicKeyPem: key.publicKeyPem,
      });
      return {
        context: { key: key.privateKeyPem, cert: chainOf(leaf.certPem, iss), ca: anchor.certPem },
        notAfter,
      };
    },
    foreign(cluster) {
      foreignAnchor ??= createTrustAnchor({ trustDomain: TRUST_DOMAIN, commonName: 'foreign root' });
      const iss = createIssuer(foreignAnchor, { cluster, trustDomain: TRUST_DOMAIN });
      const cert = issueGatewayCertificate(iss, { trustDomain: TRUST_DOMAIN, cluster });
      // Trusts the real anchor (so it can verify our server) but presents a foreign chain.
      return { key: cert.keyPem, cert: cert.chainPem, ca: anchor.certPem };
    },
  };
}

/**
 * The first whole second at least `ms` from now: a notAfter a certificate keeps as it is. (node-forge
 * drops the milliseconds of X.509 times, which would end a certificate up to a second early.)
 */
export function wholeSecondAfter(ms: number): Date {
  return new Date(Math.ceil((Date.now() + ms) / 1_000) * 1_000);
}

/**
 * The same certificate re-signed by its own key with another validity: OpenSSL verifies an issuer
 * under it as under the original (same name, same key), so the peer's chain is unchanged while the
 * anchor a gateway trusts expires in seconds. (Minting a short-lived anchor with its whole chain
 * could outlast its validity on a loaded machine: keys are the slow part.)
 */
export function resigned(
  anchor: { certPem: string; keyPem: string },
  notAfter: Date,
  notBefore?: Date,
): string {
  const cert = forge.pki.certificateFromPem(anchor.certPem);
  cert.validity.notAfter = notAfter;
  if (notBefore) cert.validity.notBefore = notBefore;
  cert.sign(forge.pki.privateKeyFromPem(anchor.keyPem), forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

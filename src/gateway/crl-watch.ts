/**
 * The gateway's check of its TLS peers, over the revocation list of `--crl-file`. The watch itself
 * lives in src/identity/crl-watch.ts, since `isthmus identity` follows the same file.
 */
import type { X509Certificate } from 'node:crypto';
import type { CrlWatcher } from '../identity/crl-watch.js';
import { issuerScopeRefusal } from '../identity/issuer-scope.js';

export { type CrlWatcher, type CrlWatchOptions, watchCrlFile } from '../identity/crl-watch.js';

/**
 * Why a TLS peer's certificate is refused at the handshake, or undefined. `issuer`: the certificate
 * Node shows above the leaf, which is what the peer sent, not necessarily what OpenSSL verified
 * with; RevocationList.check believes it only when it could have verified the leaf.
 */
export type HandshakeRefusal = (
  leaf: X509Certificate,
  issuer: X509Certificate | undefined,
) => string | undefined;

/**
 * The gateway's one check of every TLS peer once its chain has verified: the ingress's clients,
 * the session pool's servers, and the identity service it sends its token to. A gateway
 * certificate signed by another cluster's issuer (issuer-scope.ts) or anything the CRL revokes, as
 * loaded at that handshake: a reload counts from the next handshake on. Once the CRL revokes an
 * issuer, a chain that shows above the leaf a certificate that did not sign it, that the anchor did
 * not sign, or that is not valid now is refused too (revocation.ts): what a revoked issuer's holder
 * sends to hide the revocation behind a look-alike of the issuer.
 */
export function handshakeRefusal(crl: CrlWatcher | undefined, trustDomain: string): HandshakeRefusal {
  return (leaf, issuer) => issuerScopeRefusal(leaf, trustDomain) ?? crl?.current().check(leaf, issuer);
}

/**
 * `isthmus certs revoke`: what the operator does once the CRLs are written: where crl.pem goes
 * (crlApplySteps) and what follows for the certificate revoked (revokeNextSteps).
 */
import { crlConfigMapCommand } from './anchor-rotation.js';
import { shellWord } from './files.js';
import type { RevokeResult } from './revoke-plan.js';

/**
 * How crl.pem reaches the gateways: each one loads it (--crl-file), in a cluster from the
 * isthmus-crl ConfigMap, and a peer is refused only by the gateways that loaded a list naming it,
 * so it goes to every cluster, not only the one whose certificate is revoked: one command per
 * cluster of the directory, with its kubeconfig context, as `certs new-anchor` prints them.
 */
export function crlApplySteps(
  r: Pick<RevokeResult, 'bundleFile' | 'clusters'> & Pick<Partial<RevokeResult>, 'oldAnchorRefuses'>,
): string {
  const clusters = r.clusters.length > 0 ? r.clusters : ['<cluster>'];
  return (
    `wrote ${r.bundleFile}; give it to every gateway (--crl-file): in every cluster, as the isthmus-crl ConfigMap (each command takes the kubeconfig context to be named as its cluster: change --context where it is not):\n` +
    clusters.map((c) => `  ${crlConfigMapCommand(r.bundleFile, c)}\n`).join('') +
    (r.oldAnchorRefuses === undefined
      ? ''
      : `During the anchor rotation, a gateway that trusts the old anchor alone (a cluster before step 1) refuses this file: it keeps the list it has, and one that restarts on it does not start (${r.oldAnchorRefuses}). Nothing is signed under the new anchor before step 2, so finish step 1 in a cluster before applying it there.\n`)
  );
}

/** Identity follows the CRL (--crl-file) and replaces its own serving certificate once it loads it. */
const IDENTITY_REPLACES =
  'the identity service replaces its serving certificate on its own once it loads crl.pem (the isthmus-crl ConfigMap); gateways refuse it and keep their certificates meanwhile';

/**
 * What to do once crl.pem is applied. A gateway and identity replace a revoked certificate of
 * their own as soon as they load it (src/gateway/own-certificate-revocation.ts, serving-revocation.ts),
 * except a gateway run with --cert-file. A revoked issuer in force goes on signing what every peer
 * refuses: the cluster needs a new one.
 */
export function revokeNextSteps(dir: string, r: RevokeResult): string {
  if (r.cluster !== undefined && r.holder === 'identity')
    return `It is ${r.cluster}'s identity service certificate: ${IDENTITY_REPLACES}.\n`;
  if (r.cluster !== undefined) {
    return (
      `It is a gateway certificate of ${r.cluster}: every peer that loads crl.pem (the isthmus-crl ConfigMap) refuses it, and the gateway that holds it asks identity for a new one as soon as it loads crl.pem too (its log: certificate refused by the CRL: replaced). A gateway run with --cert-file cannot: replace its files and send it SIGHUP.\n` +
      (r.holder === undefined
        ? `(If it is the identity service's serving certificate instead, ${IDENTITY_REPLACES}.)\n`
        : '')
    );
  }
  if (r.issuerOf !== undefined && r.currentIssuer) {
    return (
      `${r.issuerOf}'s issuer in force is revoked: peers that have loaded crl.pem refuse what it signs, so ${r.issuerOf} needs a new issuer (this prints how to apply it):\n` +
      `  isthmus certs --out ${shellWord(dir)} --clusters ${r.issuerOf} --reuse-anchor --force\n`
    );
  }
  return '';
}

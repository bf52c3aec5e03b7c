/**
 * One cluster's issuer may not certify another cluster's gateway. Every issuer chains to the one
 * shared anchor, so chain validation alone lets a stolen issuer key of cluster A mint
 * `spiffe://<td>/cluster/B/gateway` and open tunnels into every cluster as B. X.509 name
 * constraints cannot say "cluster B only": URI constraints match the host (the trust domain), not
 * the path. So the issuer's own name says which cluster it serves — the `identity.<cluster>.<td>`
 * common name that `isthmus certs` gives it (and the README's cert-manager Certificate) — and a
 * peer's gateway certificate must name the same cluster. An issuer named otherwise (a user's own
 * CA naming) declares no cluster and is not limited.
 */
import type { X509Certificate } from 'node:crypto';
import { infoOf, oneLineName, parseCertificate } from './certificate-info.js';
import { isValidClusterName, isValidTrustDomain, parseSpiffeGatewayIdentity } from './spiffe.js';

/** The cluster an issuer's subject CN `identity.<cluster>.<trustDomain>` declares, if it does. */
export function issuerClusterOf(subject: string, trustDomain: string): string | undefined {
  const cn = /(?:^|\n|, )CN=([^\n,]+)/.exec(subject)?.[1];
  const prefix = 'identity.';
  const suffix = `.${trustDomain}`;
  if (cn === undefined || !cn.startsWith(prefix) || !cn.endsWith(suffix)) return undefined;
  const cluster = cn.slice(prefix.length, cn.length - suffix.length);
  return isValidClusterName(cluster) ? cluster : undefined;
}

/**
 * The trust domain `isthmus certs` made an issuer for: its CN `identity.<cluster>.<td>` and its
 * anchor's `root.<td>` must agree, since an issuer named `identity.<cluster>.<anything>` alone may
 * be a corporate naming (`identity.prod.eu.example.com` in `example.com`), which is not ours to refuse.
 */
function certsTrustDomainOf(cert: X509Certificate, cluster: string): string | undefined {
  const cn = (name: string) => /(?:^|\n|, )CN=([^\n,]+)/.exec(name)?.[1];
  const own = cn(cert.subject);
  const anchor = cn(cert.issuer);
  const prefix = `identity.${cluster}.`;
  if (own === undefined || anchor === undefined || !own.startsWith(prefix)) return undefined;
  const domain = own.slice(prefix.length);
  return anchor === `root.${domain}` && isValidTrustDomain(domain) ? domain : undefined;
}

/**
 * Why `leaf` may not be trusted for its gateway identity given who signed it, or undefined. Read
 * from the leaf's issuer name once TLS has verified the chain: the CA that signed it has that
 * subject (OpenSSL matches by name), and no other certificate can stand in for it, since an issuer
 * has pathLen 0 and the anchor's key is not the peer's. That also spares the issuer certificate,
 * which Node 24 does not keep for a server socket's peer.
 */
export function issuerScopeRefusal(leaf: X509Certificate, trustDomain: string): string | undefined {
  const declared = issuerClusterOf(leaf.issuer, trustDomain);
  if (declared === undefined) return undefined;
  for (const uri of infoOf(leaf).uriSans) {
    const claimed = parseSpiffeGatewayIdentity(uri);
    if (claimed === undefined || claimed.cluster === declared) continue;
    return `a gateway certificate for cluster "${claimed.cluster}" signed by the issuer of cluster "${declared}" (${oneLineName(leaf.issuer)}): an issuer certifies only its own cluster's gateways`;
  }
  return undefined;
}

/**
 * Why an issuer may not serve `cluster`: its name declares another one, so every gateway would
 * refuse what it signs (the issuer files of one cluster handed to another's install or identity).
 */
export function issuerScopeProblems(
  certPem: string,
  scope: { cluster: string; trustDomain: string },
): string[] {
  const cert = parseCertificate(certPem);
  const subject = cert.subject;
  const otherDomain = certsTrustDomainOf(cert, scope.cluster);
  if (otherDomain !== undefined && otherDomain !== scope.trustDomain) {
    return [
      `the issuer of ${scope.cluster} that isthmus certs made for trust domain "${otherDomain}" (${oneLineName(subject)}, under ${oneLineName(cert.issuer)}), not "${scope.trustDomain}": the gateways of clusters installed in "${otherDomain}" would refuse the identities minted in "${scope.trustDomain}"; give the --trust-domain isthmus certs was given (${otherDomain}), or make certificates for ${scope.trustDomain}`,
    ];
  }
  const declared = issuerClusterOf(subject, scope.trustDomain);
  return declared === undefined || declared === scope.cluster
    ? []
    : [
        `the issuer of cluster "${declared}" (${oneLineName(subject)}), not of "${scope.cluster}": every gateway would refuse the certificates it signs for ${scope.cluster}; use ${scope.cluster}'s issuer`,
      ];
}

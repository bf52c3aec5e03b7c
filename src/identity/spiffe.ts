import { gatewayIdentity } from '../kube/keys.js';

/**
 * SPIFFE IDs of gateways: `spiffe://<trust-domain>/cluster/<cluster>/gateway` (shared/DESIGN.md,
 * "The tunnel"). Syntax per the SPIFFE ID spec (spiffe/standards SPIFFE-ID.md §2): the trust domain
 * is lower-case letters, digits, `.`, `-` and `_`; path segments are non-empty and made of letters,
 * digits, `.`, `-` and `_`, and are neither `.` nor `..`.
 */
const TRUST_DOMAIN = /^[a-z0-9._-]+$/;
const SEGMENT = /^[A-Za-z0-9._-]+$/;
/** A cluster name is used as a DNS label elsewhere (mirror names), so it is held to RFC 1123. */
const CLUSTER_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export { gatewayIdentity };

/**
 * The identity service's own SPIFFE ID, `spiffe://<trust-domain>/cluster/<cluster>/identity`: the
 * URI SAN of the certificate it serves Certify with, which a gateway requires of it. It is never a
 * gateway identity (parseSpiffeGatewayIdentity refuses it), so no peer admits it to a tunnel.
 */
export function identityServiceId(trustDomain: string, cluster: string): string {
  return `spiffe://${trustDomain}/cluster/${cluster}/identity`;
}

export function isValidTrustDomain(trustDomain: string): boolean {
  return trustDomain.length > 0 && trustDomain.length <= 255 && TRUST_DOMAIN.test(trustDomain);
}

export function isValidClusterName(cluster: string): boolean {
  return CLUSTER_NAME.test(cluster);
}

export function parseSpiffeGatewayIdentity(
  uri: string,
): { trustDomain: string; cluster: string } | undefined {
  const prefix = 'spiffe://';
  if (!uri.startsWith(prefix)) return undefined;
  const rest = uri.slice(prefix.length);
  const slash = rest.indexOf('/');
  if (slash < 0) return undefined;
  const trustDomain = rest.slice(0, slash);
  const segments = rest.slice(slash + 1).split('/');
  if (!isValidTrustDomain(trustDomain)) return undefined;
  if (segments.length !== 3 || segments[0] !== 'cluster' || segments[2] !== 'gateway') return undefined;
  const cluster = segments[1] ?? '';
  if (!SEGMENT.test(cluster) || cluster === '.' || cluster === '..') return undefined;
  return { trustDomain, cluster };
}

/**
 * Parsing of a tunnel `:authority` (shared/DESIGN.md, "The tunnel"). The ingress only ever dials
 * what the service index resolves, so this parser's job is to turn a header into a lookup key and
 * to refuse everything that is not one: IP literals and names outside `svc.<domain>` are refused
 * outright (403, never an open proxy), syntax errors are 400.
 */

export type ParsedAuthority =
  | { kind: 'service'; service: string; namespace: string; port: number }
  | { kind: 'pod'; hostname: string; service: string; namespace: string; port: number };

export type AuthorityResult =
  | { ok: true; target: ParsedAuthority }
  | { ok: false; status: 400 | 403; reason: string };

/** RFC 1035 §2.3.4: a name is at most 253 characters in text form; plus ':' and a 5-digit port. */
const MAX_HOST_LENGTH = 253;
const MAX_AUTHORITY_LENGTH = MAX_HOST_LENGTH + 6;
/** RFC 1123 §2.1 label (as Kubernetes validates DNS labels): lower-case alphanumerics and '-', ≤ 63. */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** RFC 3986 §3.2.3: port = *DIGIT; we also require 1–65535 and at most 5 digits. */
const PORT = /^[0-9]{1,5}$/;
/** Dotted-quad or any shorter inet_aton form (`127.1`, `0x7f.1`): a host made only of numeric parts. */
const NUMERIC_HOST = /^(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]+|[0-9]+))*\.?$/i;

function refuse(status: 400 | 403, reason: string): { ok: false; status: 400 | 403; reason: string } {
  return { ok: false, status, reason };
}

export function parseAuthority(authority: string, clusterDomain: string): AuthorityResult {
  if (authority.length === 0) return refuse(400, 'empty :authority');
  if (authority.length > MAX_AUTHORITY_LENGTH) return refuse(400, ':authority is too long');
  // RFC 3986 §3.2.2: an IPv6 literal is bracketed. Never resolvable here.
  if (authority.startsWith('[')) return refuse(403, 'IP literals are not served');
  const colon = authority.lastIndexOf(':');
  if (colon < 0) return refuse(400, ':authority has no port');
  const host = authority.slice(0, colon).toLowerCase();
  const portText = authority.slice(colon + 1);
  if (!PORT.test(portText)) return refuse(400, `invalid port "${portText}"`);
  const port = Number(portText);
  if (port < 1 || port > 65535) return refuse(400, `port ${port} out of range`);
  if (host.length === 0) return refuse(400, ':authority has no host');
  if (host.length > MAX_HOST_LENGTH) return refuse(400, 'host name is too long');
  if (host.includes(':')) return refuse(403, 'IP literals are not served');
  if (NUMERIC_HOST.test(host)) return refuse(403, 'IP literals are not served');

  // One trailing dot (an absolute name) is the same name.
  const name = host.endsWith('.') ? host.slice(0, -1) : host;
  const labels = name.split('.');
  for (const label of labels) {
    if (!DNS_LABEL.test(label)) return refuse(400, `invalid DNS label "${label}"`);
  }
  const domain = normaliseDomain(clusterDomain);
  const suffix = `.svc.${domain}`;
  if (!name.endsWith(suffix)) return refuse(403, `"${name}" is not a service name of ${domain}`);
  const local = labels.slice(0, labels.length - domain.split('.').length - 1);
  if (local.length === 2) {
    const [service, namespace] = local as [string, string];
    return { ok: true, target: { kind: 'service', service, namespace, port } };
  }
  if (local.length === 3) {
    const [hostname, service, namespace] = local as [string, string, string];
    return { ok: true, target: { kind: 'pod', hostname, service, namespace, port } };
  }
  return refuse(403, `"${name}" is neither <svc>.<ns>.svc.${domain} nor <pod>.<svc>.<ns>.svc.${domain}`);
}

function normaliseDomain(domain: string): string {
  const lower = domain.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

/** The inverse of parseAuthority, for tests (the egress sends the mirror's `remote-svc-fq-name:<port>`: watch-mirrors.ts). */
export function formatAuthority(target: ParsedAuthority, clusterDomain: string): string {
  const domain = normaliseDomain(clusterDomain);
  const prefix = target.kind === 'pod' ? `${target.hostname}.` : '';
  return `${prefix}${target.service}.${target.namespace}.svc.${domain}:${target.port}`;
}

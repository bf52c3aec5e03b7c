/**
 * Server identity for API server connections. Node 22.23's `tls.checkServerIdentity` refuses every
 * IPv6 literal: it passes the host through `domainToASCII`, which turns `::1` into an empty string,
 * and then matches it as a DNS name. An API server at `https://[fd00::1]:6443` (an IPv6-only
 * cluster's) would fail verification on that runtime while Node 20 and 24 accept it. So IP literals
 * are matched here against the certificate's IP SANs, both sides canonicalised, as Node 20 and 24
 * do (RFC 6125 §6.2.1: an IP is matched against IP SANs only); names go to Node's own check.
 */
import { isIP } from 'node:net';
import { checkServerIdentity as nodeCheck, type PeerCertificate } from 'node:tls';

/** `0:0:0:0:0:0:0:1` and `::1` alike → `::1`; IPv4 as is. */
function canonicalIP(ip: string): string {
  return isIP(ip) === 6 ? new URL(`http://[${ip}]/`).hostname.slice(1, -1) : ip;
}

export function checkServerIdentity(host: string, cert: PeerCertificate): Error | undefined {
  if (isIP(host) === 0) return nodeCheck(host, cert);
  const ips = (cert.subjectaltname ?? '')
    .split(', ')
    .filter((name) => name.startsWith('IP Address:'))
    .map((name) => canonicalIP(name.slice('IP Address:'.length)));
  if (ips.includes(canonicalIP(host))) return undefined;
  return Object.assign(
    new Error(
      `Hostname/IP does not match certificate's altnames: IP: ${host} is not in the cert's list: ${ips.join(', ')}`,
    ),
    { code: 'ERR_TLS_CERT_ALTNAME_INVALID', reason: `IP: ${host} is not in the cert's list`, host, cert },
  );
}

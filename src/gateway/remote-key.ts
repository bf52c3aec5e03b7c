/**
 * The session pool's key of a remote address (session-pool.ts): one per address whatever its
 * spelling. Runs on every tunnel, so the common spelling costs no parsing.
 */
import type { GatewayAddress } from './pooled-session.js';
import { canonicalHost } from './probe-targets.js';

/**
 * The pool's key of a remote address: one per address whatever its spelling (`targetKey`: names
 * and IPv6 lower case, IPv6 compressed), as the admin `/probe` admits any spelling of an address a
 * Link names (review: one remote per spelling let any caller grow the map). The common spelling
 * (lower case, no IPv6) is its own key, without parsing: this runs on every tunnel.
 */
export function remoteKey(a: GatewayAddress): string {
  if (!NOT_CANONICAL.test(a.host)) return `${a.host}|${a.port}`;
  let host = canonicalHosts.get(a.host);
  if (host === undefined) {
    if (canonicalHosts.size >= MAX_CANONICAL_HOSTS) canonicalHosts.clear();
    host = canonicalHost(a.host);
    canonicalHosts.set(a.host, host);
  }
  return `${host}|${a.port}`;
}

/** A host that `canonicalHost` may spell otherwise: upper case or an IPv6 address. */
const NOT_CANONICAL = /[A-Z:]/;
/** Spellings already canonicalised (an IPv6 one parses a URL), bounded: any caller may add some. */
const canonicalHosts = new Map<string, string>();
const MAX_CANONICAL_HOSTS = 1024;

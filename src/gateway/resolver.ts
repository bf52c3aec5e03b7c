/**
 * The ingress's `resolve`: `:authority` → parsed target → ready endpoints of an exported Service.
 * Parse failures keep their 400/403; index misses are 403 (not exported, no such port) or 503.
 */
import { type AuthorityResult, parseAuthority } from './authority.js';
import type { TunnelResolution } from './ingress.js';
import type { ServiceIndex } from './service-index.js';

/** Bound on remembered parses, so a peer sending random names cannot grow the cache. */
const MAX_CACHED_AUTHORITIES = 1024;

export function resolverFor(
  index: ServiceIndex,
  clusterDomain: string,
): (authority: string, peerCluster?: string) => TunnelResolution {
  // Parsing is pure and a gateway sees few distinct authorities, so parses are remembered; the
  // index is asked afresh every time (endpoints change).
  const parsedCache = new Map<string, AuthorityResult>();
  return (authority, peerCluster) => {
    let parsed = parsedCache.get(authority);
    if (parsed === undefined) {
      parsed = parseAuthority(authority, clusterDomain);
      if (parsedCache.size >= MAX_CACHED_AUTHORITIES) parsedCache.clear();
      parsedCache.set(authority, parsed);
    }
    return parsed.ok ? index.resolve(parsed.target, peerCluster) : parsed;
  };
}

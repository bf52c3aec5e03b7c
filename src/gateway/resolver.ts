/**
 * The ingress's `resolve`: `:authority` → parsed target → ready endpoints of an exported Service.
 * Parse failures keep their 400/403; index misses are 403 (not exported, no such port) or 503.
 */
import { type AuthorityResult, parseAuthority } from './authority.js';
import type { TunnelResolution } from './ingress.js';
import type { ServiceIndex } from './service-index.js';

export function resolverFor(
  index: ServiceIndex,
  clusterDomain: string,
): (authority: string) => TunnelResolution {
  return (authority) => {
    const parsed = parseAuthority(authority, clusterDomain);
    return parsed.ok ? index.resolve(parsed.target) : parsed;
  };
}

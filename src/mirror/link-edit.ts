/**
 * What a Link edit asks of its watcher (house style 1: plan, then apply). Mirrors are never torn
 * down for an edit: only the remote connection, the credentials' watch and the known gateway are
 * replaced, and each only when what it was built from changed.
 */
import { forgetKnownGateway, sameAddresses } from './followed-gateway.js';
import type { LinkConfig } from './link-config.js';

export interface LinkEditPlan {
  /** The remote informers were built from what changed (credentials, selectors, gateway or not). */
  reconnect: boolean;
  /** The Link names another credentials Secret: its watch follows. */
  rewatchCredentials: boolean;
  /** spec.gatewayAddress changed: the connection's fallback follows. */
  fallbackChanged: boolean;
  /** The gateway addresses found before are not the edited Link's (followed-gateway.ts). */
  forgetKnownGateway: boolean;
}

/** Selectors of the parsed configs (link-config.ts), compared by their JSON. */
function sameSelector(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** `knownFromService`: the known gateway addresses are a LoadBalancer's (false when none is known). */
export function planLinkEdit(before: LinkConfig, after: LinkConfig, knownFromService: boolean): LinkEditPlan {
  const hasGatewayChanged = before.hasGateway !== after.hasGateway;
  const rewatchCredentials = before.credentialsSecret !== after.credentialsSecret;
  const fallbackChanged = !sameAddresses(before.gatewayAddresses, after.gatewayAddresses);
  const reconnect =
    hasGatewayChanged ||
    rewatchCredentials ||
    !sameSelector(before.selector, after.selector) ||
    !sameSelector(before.federatedServiceSelector, after.federatedServiceSelector) ||
    !sameSelector(before.remoteDiscoverySelector, after.remoteDiscoverySelector);
  return {
    reconnect,
    rewatchCredentials,
    fallbackChanged,
    forgetKnownGateway: forgetKnownGateway({
      hasGatewayChanged,
      fallbackChanged,
      fromService: knownFromService,
    }),
  };
}

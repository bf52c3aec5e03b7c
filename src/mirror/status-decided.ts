/**
 * Whether the watcher knows enough to write over the status it finds on its Link. A restarted
 * controller keeps the status it finds until it knows better (as it keeps endpoint readiness): no
 * Ready=False/Syncing or GatewayAlive=Unknown flap on every restart. A gateway changed since (Link
 * edited, address moved) is known better: the status says Unknown for it. Pure: the watcher passes
 * what it knows.
 */
import type { LinkStatus } from '../kube/types.js';
import { sameAddresses } from './followed-gateway.js';
import type { GatewayAlive } from './plan-mirror.js';

export interface StatusFacts {
  credentialsError: string | undefined;
  /** The remote is refused (remote-refusal.ts). */
  refused: boolean;
  remoteApiUp: boolean | undefined;
  remoteSynced: boolean;
  /** A connection checked targetClusterName against the remote (remote-refusal.ts). */
  nameChecked: boolean;
  clusterName: string;
  localGatewayError: string | undefined;
  hasGateway: boolean;
  alive: GatewayAlive;
  /** A liveness once decided was dropped: the gateway or the probe changed (probe-worker.ts). */
  superseded: boolean;
  /** The connection has listed the remote gateway Service. */
  gatewayKnown: boolean;
  /** Read only when the rest leaves it to them (a function: the watcher computes them). */
  gatewayAddresses: () => string[];
}

export function statusDecided(found: LinkStatus | undefined, facts: StatusFacts): boolean {
  if (!found?.conditions?.length) return true;
  if (facts.credentialsError || facts.refused || facts.remoteApiUp === false) return true;
  if (!facts.remoteSynced) return false;
  // The cluster whose mirrors the Link holds is known better (link-claims.ts reads it).
  if (facts.nameChecked && found.mirroredClusterName !== facts.clusterName) return true;
  // A local gateway that cannot probe is known now, and is no news of the remote's liveness.
  if (facts.localGatewayError !== undefined) return true;
  if (!facts.hasGateway || facts.alive !== 'unknown' || facts.superseded) return true;
  // The remote gateway moved while we were away: the local gateway's /probe dials only addresses
  // a Link names, so its probe waits for this status to name the new one.
  return facts.gatewayKnown && !sameAddresses(found.gatewayAddresses ?? [], facts.gatewayAddresses());
}

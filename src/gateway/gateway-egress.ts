/**
 * The gateway's way out: the session pool that tunnels to remote gateways, and the egress
 * listeners that follow this cluster's mirrors (watch-mirrors.ts), one port per admitted route.
 */
import { describeError } from '../errors.js';
import { gatewayIdentity } from '../kube/keys.js';
import { EgressListeners } from './egress.js';
import type { GatewayCertificates } from './gateway-certificates.js';
import type { GatewayContext } from './gateway-context.js';
import { gatewayAddressesOf } from './gateway-failover.js';
import type { GatewayInformers } from './gateway-informers.js';
import type { LaterParts } from './gateway-listeners.js';
import type { ReadinessState } from './gateway-readiness.js';
import { gatewayMirrorsOnly } from './mirror-cluster-ips.js';
import { gatewayClusterOf } from './peers.js';
import { SessionPool } from './session-pool.js';
import {
  lastingRefusals,
  type MirrorWatcher,
  UNVOUCHED_LOG_AFTER_MS,
  watchMirrors,
} from './watch-mirrors.js';

/**
 * The sessions to remote gateways: only to another gateway of this trust domain, never ourselves,
 * at the address a mirror or probe names or another address the same Link names for that gateway
 * (gateway-failover.ts), never one no Link names.
 */
export function startSessionPool(
  ctx: GatewayContext,
  certificates: GatewayCertificates,
  links: Pick<GatewayInformers['links'], 'list'>,
): SessionPool {
  const { config } = ctx;
  const ownIdentity = gatewayIdentity(config.trustDomain, config.clusterName);
  const pool = new SessionPool({
    checkPeerCertificate: certificates.revoked,
    secureContext: () => certificates.secureContext(),
    // Any gateway of this trust domain except ourselves: the mirror says which address, the
    // certificate must at least be a gateway's (a workload certificate is never a tunnel end).
    expectPeer: (identity) =>
      identity !== undefined &&
      identity !== ownIdentity &&
      gatewayClusterOf(identity, config.trustDomain) !== null,
    connectTimeoutMs: config.limits.connectTimeoutMs,
    gatewayAddresses: (gateway, cluster) => gatewayAddressesOf(links.list(), gateway, cluster),
  });
  ctx.stops.add('session pool', () => pool.close());
  return pool;
}

/**
 * The egress listeners and the mirror watcher that applies the admitted routes to them (refusals
 * logged once per change, unvouched ones only if they last). `state.egressApplied` turns true at
 * the first apply after the mirrors, Links and controller slices are listed. `later` learns both.
 */
export function startEgress(
  ctx: GatewayContext,
  informers: GatewayInformers,
  pool: SessionPool,
  state: ReadinessState,
  later: LaterParts,
): { egress: EgressListeners; mirrorWatcher: MirrorWatcher } {
  const { config, log, stops } = ctx;
  const egress = new EgressListeners({
    host: config.egressHost,
    pool,
    clientAddresses: config.accessLog,
  });
  later.egress = egress;
  stops.add('egress listeners', () => egress.close());
  let lastRefused = '';
  // A port another process holds fails every retry (5 s) alike: said when the failure changes.
  let lastListenError = '';
  const unvouchedLog = lastingRefusals(
    () => later.mirrors?.refused() ?? [],
    UNVOUCHED_LOG_AFTER_MS,
    (lasting) =>
      log.warn({ refused: lasting.map((r) => `${r.mirror}: ${r.reason}`) }, 'mirror routes refused'),
  );
  stops.add('unvouched route log', () => unvouchedLog.stop());
  const mirrorWatcher: MirrorWatcher = watchMirrors(gatewayMirrorsOnly(informers.mirrors), egress, {
    links: informers.links,
    slices: informers.mirrorSlices,
    egressRange: config.egressPortRange,
    ready: () => informers.links.hasSynced() && informers.mirrorSlices.hasSynced(),
    debounceMs: config.limits.egressApplyDebounceMs,
    // Once per change of the set, not per apply: a burst of events that changes nothing is quiet.
    // A port no controller slice lists yet is the usual moment between a new mirror's Service and
    // its slice: said only if it lasts.
    onRefused: (refused) => {
      const unbound = refused.filter((r) => r.unbound).length;
      ctx.metrics.egressListenFailures(unbound);
      if (unbound === 0) lastListenError = '';
      // Ports that cannot be bound are onError's to say.
      const settled = refused.filter((r) => !r.unvouched && !r.unbound);
      const text = JSON.stringify(settled);
      if (text !== lastRefused && settled.length > 0)
        log.warn({ refused: settled.map((r) => `${r.mirror}: ${r.reason}`) }, 'mirror routes refused');
      lastRefused = text;
      unvouchedLog.update();
    },
    onError: (err) => {
      const text = describeError(err);
      if (text !== lastListenError) log.error({ err: text }, 'egress listeners not fully applied');
      lastListenError = text;
    },
  });
  later.mirrors = mirrorWatcher;
  stops.add('mirror watcher', () => mirrorWatcher.close());
  // The first apply after both lists are known (an unlisted Link would refuse its mirrors) is what
  // "egress ready" means.
  Promise.all([informers.mirrors.synced, informers.links.synced, informers.mirrorSlices.synced])
    .then(() => {
      mirrorWatcher.refresh();
      return mirrorWatcher.idle();
    })
    .then(() => {
      state.egressApplied = true;
      ctx.refresh();
    })
    .catch(() => {});
  return { egress, mirrorWatcher };
}

/**
 * What a LinkWatcher knows, as the LinkState its status is computed from (link-status.ts). Pure:
 * the watcher gathers the facts, this decides which of them the status says.
 */
import type { LinkState } from './link-status.js';
import type { GatewayAlive, ServiceMirrorStatus } from './plan-mirror.js';
import type { RemoteApiReason } from './remote-api-failure.js';
import type { Refusal } from './remote-refusal.js';

export interface LinkFacts {
  generation: number | undefined;
  clusterName: string;
  hasGateway: boolean;
  /** A connection runs (made with credentials read before, even if the Secret is unusable now). */
  connected: boolean;
  remoteSynced: boolean;
  remoteApiUp: boolean | undefined;
  remoteApiError: string | undefined;
  /** Why it is down (remote-api-failure.ts); undefined while up. */
  remoteApiReason: RemoteApiReason | undefined;
  credentialsError: string | undefined;
  refusal: Refusal | undefined;
  /** A connection checked targetClusterName against the remote (remote-refusal.ts). */
  nameChecked: boolean;
  gatewayAddresses: string[];
  mirrored: number;
  statuses: Iterable<ServiceMirrorStatus>;
  /** Keys of the last complete list not synced since; undefined before any list. */
  unsynced: number | undefined;
  /** The probe worker's view; `target` is read only for a Link with a gateway. */
  probe: {
    readonly alive: GatewayAlive;
    readonly lastError: string | undefined;
    readonly localError: string | undefined;
    readonly target: string | undefined;
    /** Where the gateway last answered, when not at `target` (probe-worker.ts). */
    readonly via?: string | undefined;
  };
}

export function linkStateOf(f: LinkFacts): LinkState {
  const s: LinkState = {
    remoteSynced: f.remoteSynced,
    remoteApiUp: f.remoteApiUp,
    gatewayAlive: f.hasGateway ? f.probe.alive : undefined,
    gatewayAddresses: f.gatewayAddresses,
    mirrored: f.mirrored,
    problems: [...f.statuses].filter((x) => x.reason !== 'Mirrored'),
  };
  if (f.generation !== undefined) s.generation = f.generation;
  if (f.credentialsError) s.credentialsError = f.credentialsError;
  if (f.refusal?.reason === 'RemoteClusterMismatch') s.remoteClusterMismatch = f.refusal.message;
  if (f.refusal?.reason === 'RemoteClusterUnconfirmed') s.remoteClusterUnconfirmed = f.refusal.message;
  if (f.nameChecked) s.mirroredClusterName = f.clusterName;
  if (f.unsynced !== undefined) s.servicesUnsynced = f.unsynced;
  // A connection made with credentials read before keeps running (link-watcher.ts connect()).
  if (f.credentialsError && f.connected) s.credentialsKept = true;
  if (f.remoteApiError) s.remoteApiError = f.remoteApiError;
  if (f.remoteApiReason && f.remoteApiReason !== 'Unreachable') s.remoteApiRefused = f.remoteApiReason;
  if (f.probe.lastError) s.probeError = f.probe.lastError;
  if (f.hasGateway && f.probe.localError) s.localGatewayError = f.probe.localError;
  const target = f.hasGateway ? f.probe.target : undefined;
  if (target) s.probeTarget = target;
  if (f.hasGateway && f.probe.via && f.probe.alive === true) s.probeVia = f.probe.via;
  return s;
}

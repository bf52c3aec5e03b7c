/**
 * The Link's status as a pure function of what the watcher knows, and the "has it changed" test
 * that keeps status writes to real changes (a write per probe would flood the API server and wake
 * every Link watcher in the cluster).
 *
 * Conditions (types and reasons):
 * - Ready: True/Synced when the remote list is complete; False/LinkInvalid (spec rejected),
 *   False/RemoteClusterMismatch (the credentials reach a cluster installed under another name:
 *   remote-identity.ts; no mirror is touched), False/RemoteClusterUnconfirmed (the remote said a
 *   name on this connection and cannot say now: no label, no namespace, or a 403, as another
 *   cluster at the same address answers; no mirror is touched), False/CredentialsUnavailable (Secret missing or
 *   unusable, and no connection made with it before), False/Unauthorized or False/Forbidden (first
 *   list pending because the remote API server refuses the credentials: remote-api-failure.ts),
 *   False/Syncing (first list pending). A Secret gone or unusable while a connection made
 *   with it runs does not make the Link unready: that connection keeps running on the credentials
 *   read before, and the Ready message says so (CREDENTIALS_KEPT), until the Secret is usable again.
 *   Ready is about the link itself: Services it cannot mirror leave it True and say so in
 *   ServicesMirrored.
 * - ServicesMirrored (services-mirrored.ts): True/AllMirrored when every Service the Link picks is
 *   mirrored, apart from those left out by choice (NotAllowed, OwnedByIsthmus,
 *   UnsupportedServiceType, MissingNamespace); False/SomeNotMirrored when some cannot be (Conflict,
 *   InvalidService, PortRangeExhausted, ApplyFailed, SyncFailing), the message counting them against the total
 *   and naming the first few; False/NoneMirrored when none of them can be; Unknown/Syncing until
 *   every Service of the first complete list is synced. Through a later list (a restart, a
 *   reconnect) it keeps what it said until that list's Services are synced. False/RemoteListShrunk,
 *   before all of these, while one remote list's removals are held (deletion-hold.ts): the message
 *   says how many mirrors are kept and until when. Absent on a Link the controller rejects.
 * - RemoteAPIAvailable: True/Connected; Unknown/Connecting before the first list or watch of the
 *   remote has succeeded or failed; True only while every remote informer the Link runs lists and
 *   watches, else False with the reason of the failing one (remote-api-sources.ts: Unauthorized,
 *   then Forbidden, then Unreachable); False/Unreachable while list/watch of the remote fails
 *   (mirrors are kept meanwhile), False/Unauthorized (401: the token is rejected) or False/Forbidden
 *   (403: the remote account may not read what the Link lists) while the remote API server refuses
 *   the credentials, the message saying how to fix them; False/RemoteClusterMismatch while the API the credentials reach
 *   is not the Link's cluster's, False/RemoteClusterUnconfirmed while it no longer says it is
 *   (nothing of it is listed).
 * - GatewayAlive: True/ProbeSucceeded; False/ProbeFailed after failureThreshold failures;
 *   Unknown/NotProbedYet until the first probe decides, and again when the gateway or the probe
 *   changes (a Link edit, the remote gateway's address moving); Unknown/LocalGatewayUnavailable
 *   while the probes fail on this side (probe-answer.ts: this cluster's gateway did not answer the
 *   controller, or answered that it cannot probe), which says nothing of the remote: the message
 *   says what is wrong here and what was last known of the remote. Absent on a Link without a gateway.
 */
import type { LinkStatus, ServiceMirrorStatus, V1Condition } from '../kube/types.js';
import type { GatewayAlive } from './plan-mirror.js';
import type { RemoteApiReason } from './remote-api-failure.js';

import { SERVICES_MIRRORED, type ServicesSeen, servicesMirrored } from './services-mirrored.js';

/** GatewayAlive's reason while this cluster's gateway cannot probe: nothing is known of the remote. */
export const LOCAL_GATEWAY_UNAVAILABLE = 'LocalGatewayUnavailable';

/**
 * Services not mirrored that the status lists by name. Past that, a count: a remote cluster whose
 * thousands of exports all lack a local namespace must not grow the Link past what the API server
 * stores (etcd takes 1.5 MiB per object), or no status would be written at all.
 */
export const MAX_LISTED_SERVICES = 100;

/** Appended, after the credentials' error, to the Ready message of a Link that keeps its connection. */
export const CREDENTIALS_KEPT =
  'the connection keeps running on the credentials read before (a restarted controller cannot connect until the Secret is usable again)';

export interface LinkState {
  generation?: number;
  invalid?: string;
  credentialsError?: string;
  /** The credentials are unusable, but a connection made with those read before runs on. */
  credentialsKept?: boolean;
  /** Why the remote the credentials reach is not the Link's cluster (remote-identity.ts). */
  remoteClusterMismatch?: string;
  /** Why the remote, which said a name on this connection, is no longer believed to be the Link's cluster. */
  remoteClusterUnconfirmed?: string;
  /**
   * The Link's targetClusterName, once a connection has checked it against the remote's install
   * label (or found a remote that cannot say): `status.mirroredClusterName`. Absent: the status
   * keeps the name it had.
   */
  mirroredClusterName?: string;
  remoteSynced: boolean;
  /** Undefined until the first list or watch of the remote has succeeded or failed. */
  remoteApiUp: boolean | undefined;
  remoteApiError?: string;
  /** The remote API server refuses the credentials (remote-api-failure.ts); absent: unreachable. */
  remoteApiRefused?: Exclude<RemoteApiReason, 'Unreachable'>;
  /** undefined: the Link has no gateway (nothing probed, no GatewayAlive condition). */
  gatewayAlive: GatewayAlive | undefined;
  probeError?: string;
  /** Why the last probe failed on this side (this cluster's gateway): GatewayAlive is then Unknown. */
  localGatewayError?: string;
  /** The remote gateway probed (`<host>:<port>`), when known. */
  probeTarget?: string;
  /**
   * Where the last probe found the remote gateway alive when that is not `probeTarget`: another
   * address the Link names for it (the local gateway tries them when nothing answers at the one asked about).
   */
  probeVia?: string;
  gatewayAddresses: string[];
  mirrored: number;
  /** Services that are not mirrored, with the reason. */
  problems: ServiceMirrorStatus[];
  /**
   * Services of the last complete remote list whose sync has not run since; undefined before any
   * complete list (ServicesMirrored waits for none to be left).
   */
  servicesUnsynced?: number;
  /** Removals of a shrunk remote list held (deletion-hold.ts): ServicesMirrored says so first. */
  deletionsHeld?: ServicesSeen['deletionsHeld'];
}

type Cond = Pick<V1Condition, 'type' | 'status' | 'reason' | 'message'>;

/** GatewayAlive while this cluster's gateway cannot probe: the remote is not blamed for it. */
function localGatewayUnavailable(s: LinkState, error: string): Cond {
  const remote = s.probeTarget ? `the remote gateway ${s.probeTarget}` : 'the remote gateway';
  const last =
    s.gatewayAlive === 'unknown'
      ? 'it has not been probed yet'
      : s.gatewayAlive
        ? 'it last answered'
        : 'it last failed failureThreshold probes in a row';
  return {
    type: 'GatewayAlive',
    status: 'Unknown',
    reason: LOCAL_GATEWAY_UNAVAILABLE,
    message: `${error}: nothing new is known of ${remote} until this cluster's gateway can probe it (${last})`,
  };
}

/** Why nothing of the remote is listed: it is not, or no longer says it is, the Link's cluster. */
function remoteRefusal(s: LinkState): { reason: string; message: string } | undefined {
  if (s.remoteClusterMismatch) return { reason: 'RemoteClusterMismatch', message: s.remoteClusterMismatch };
  if (s.remoteClusterUnconfirmed)
    return { reason: 'RemoteClusterUnconfirmed', message: s.remoteClusterUnconfirmed };
  return undefined;
}

/** The remote API server refuses the credentials (401, 403): why the first list waits, and the fix. */
function credentialsRefused(s: LinkState): { reason: string; message: string } | undefined {
  if (s.remoteApiUp !== false || !s.remoteApiRefused) return undefined;
  return { reason: s.remoteApiRefused, message: s.remoteApiError ?? `remote API: ${s.remoteApiRefused}` };
}

/** RemoteAPIAvailable; `refused`: the remote is refused, for who it is or because it refuses the credentials. */
function remoteApiCondition(s: LinkState, refused: { reason: string; message: string } | undefined): Cond {
  const type = 'RemoteAPIAvailable';
  if (refused) return { type, status: 'False', ...refused };
  if (s.remoteApiUp) return { type, status: 'True', reason: 'Connected', message: 'remote API reachable' };
  // Not tried yet (a new Link): no news, and no Warning Event for a remote that never failed.
  if (s.remoteApiUp === undefined && !s.remoteApiError && !s.credentialsError)
    return { type, status: 'Unknown', reason: 'Connecting', message: 'connecting to the remote API' };
  return {
    type,
    status: 'False',
    reason: 'Unreachable',
    message: s.remoteApiError ?? s.credentialsError ?? 'remote API not reachable',
  };
}

function conditions(s: LinkState): Cond[] {
  let ready: Cond;
  const kept = s.credentialsError && s.credentialsKept ? `; ${s.credentialsError}: ${CREDENTIALS_KEPT}` : '';
  const refusal = remoteRefusal(s);
  const refused = credentialsRefused(s);
  if (s.invalid) ready = { type: 'Ready', status: 'False', reason: 'LinkInvalid', message: s.invalid };
  else if (refusal) ready = { type: 'Ready', status: 'False', ...refusal };
  else if (s.credentialsError && !s.credentialsKept)
    ready = { type: 'Ready', status: 'False', reason: 'CredentialsUnavailable', message: s.credentialsError };
  // Not "waiting for the first list": that list waits on someone fixing the credentials.
  else if (!s.remoteSynced && refused)
    ready = { type: 'Ready', status: 'False', reason: refused.reason, message: `${refused.message}${kept}` };
  else if (!s.remoteSynced)
    ready = {
      type: 'Ready',
      status: 'False',
      reason: 'Syncing',
      message: `waiting for the first list of the remote cluster${kept}`,
    };
  else
    ready = {
      type: 'Ready',
      status: 'True',
      reason: 'Synced',
      message: `${s.mirrored} services mirrored${kept}`,
    };
  if (s.invalid) return [ready];
  const api = remoteApiCondition(s, refusal ?? refused);
  if (s.gatewayAlive === undefined) return [ready, api];
  const gateway: Cond = s.localGatewayError
    ? localGatewayUnavailable(s, s.localGatewayError)
    : s.gatewayAlive === 'unknown'
      ? {
          type: 'GatewayAlive',
          status: 'Unknown',
          reason: 'NotProbedYet',
          message: s.probeTarget
            ? `no probe of ${s.probeTarget} has succeeded yet, nor failed failureThreshold times`
            : 'no probe has answered yet',
        }
      : s.gatewayAlive
        ? {
            type: 'GatewayAlive',
            status: 'True',
            reason: 'ProbeSucceeded',
            message: s.probeVia
              ? `remote gateway answers probes at ${s.probeVia}, another address the Link names (${s.probeTarget ?? 'the address probed'} did not answer when last tried)`
              : 'remote gateway answers probes',
          }
        : {
            type: 'GatewayAlive',
            status: 'False',
            reason: 'ProbeFailed',
            message: s.probeError ?? 'probe failed',
          };
  return [ready, api, gateway];
}

/** The status to write; lastTransitionTime is kept from `previous` for unchanged conditions. */
export function linkStatus(
  s: LinkState,
  previous: LinkStatus | undefined,
  now: Date = new Date(),
): LinkStatus {
  const before = new Map((previous?.conditions ?? []).map((c) => [c.type, c]));
  const services = s.invalid ? [] : [servicesMirrored(s, before.get(SERVICES_MIRRORED))];
  const conds: V1Condition[] = [...conditions(s), ...services].map((c) => {
    const old = before.get(c.type);
    const lastTransitionTime = old && old.status === c.status ? old.lastTransitionTime : now;
    return {
      type: c.type,
      status: c.status,
      reason: c.reason,
      message: c.message ?? '',
      lastTransitionTime,
      ...(s.generation !== undefined ? { observedGeneration: s.generation } : {}),
    };
  });
  // Faults first: NotAllowed is the exporter's choice, and must not crowd them out of the list.
  const problems = [...s.problems].sort(
    (a, b) =>
      Number(a.reason === 'NotAllowed') - Number(b.reason === 'NotAllowed') ||
      `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`),
  );
  const status: LinkStatus = {
    conditions: conds,
    mirroredServices: s.mirrored,
    gatewayAddresses: [...s.gatewayAddresses],
    services: problems.slice(0, MAX_LISTED_SERVICES),
  };
  if (problems.length > MAX_LISTED_SERVICES) {
    status.servicesNotMirrored = problems.length;
    status.servicesNotAllowed = problems.filter((p) => p.reason === 'NotAllowed').length;
  }
  if (s.generation !== undefined) status.observedGeneration = s.generation;
  // Which cluster's mirrors the Link holds outlives the controller (link-claims.ts): kept until a
  // connection has checked the Link's new name.
  const mirroredClusterName = s.mirroredClusterName ?? previous?.mirroredClusterName;
  if (mirroredClusterName !== undefined) status.mirroredClusterName = mirroredClusterName;
  return status;
}

/** Same status apart from timestamps (which come back from the API as strings). */
export function sameStatus(a: LinkStatus | undefined, b: LinkStatus | undefined): boolean {
  const strip = (s: LinkStatus | undefined) =>
    JSON.stringify({
      ...s,
      conditions: (s?.conditions ?? []).map((c) => [
        c.type,
        c.status,
        c.reason,
        c.message ?? '',
        c.observedGeneration,
      ]),
      services: (s?.services ?? []).map((p) => [p.namespace, p.name, p.reason, p.message ?? '']),
    });
  return strip(a) === strip(b);
}

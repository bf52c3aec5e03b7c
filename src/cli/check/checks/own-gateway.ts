/**
 * The chains this cluster's own gateway presents, as check read them: each replica's admin
 * `/certificate` (through the pod proxy), and the handshake with its Service's LoadBalancer address,
 * which is what peers get but shows only the replica it landed on. A replica whose `/certificate`
 * could not be read (a gateway older than the endpoint: 404) leaves the handshake as its only view,
 * as before the endpoint. Pure: the trust-anchor and certificates checks judge these chains.
 */
import { parseCertificate } from '../../../identity/certificate-info.js';
import { SYSTEM_NAMESPACE } from '../../../kube/keys.js';
import type { CheckFacts } from '../types.js';

export const RESTART_GATEWAYS = `kubectl -n ${SYSTEM_NAMESPACE} rollout restart deployment/isthmus-gateway`;

export interface OwnGatewayChain {
  /** How a message names it: `gateway pod <name>`, or `this cluster's gateway (<address>)`. */
  by: string;
  /** The pod it was read from; absent: the handshake, whichever replica answered it. */
  pod?: string;
  /** The handshake's address (no pod). */
  address?: string;
  chainPem: string[];
}

type Facts = Pick<CheckFacts, 'localGatewayChain' | 'gatewayPodChains'>;

/**
 * Each replica's chain, then the handshake's when its leaf is none of theirs (a replica whose
 * `/certificate` was not read): the handshake adds nothing of a replica already named.
 */
export function ownGatewayChains(facts: Facts): OwnGatewayChain[] {
  const pods = facts.gatewayPodChains?.ok ? facts.gatewayPodChains.value : [];
  const read: OwnGatewayChain[] = pods.flatMap((p) =>
    p.ok ? [{ by: `gateway pod ${p.pod}`, pod: p.pod, chainPem: p.chainPem }] : [],
  );
  const local = facts.localGatewayChain;
  if (!local?.ok || read.some((r) => sameLeaf(r.chainPem, local.chainPem))) return read;
  return [
    ...read,
    { by: `this cluster's gateway (${local.address})`, address: local.address, chainPem: local.chainPem },
  ];
}

/** What check knows of the replicas' certificates: every running one's, or which it could not read. */
export type ReplicasRead =
  | { all: true; pods: string[] }
  | { all: false; unread: Array<{ pod: string; error: string }> }
  | undefined;

/** undefined: none read at all (not listed, no running pod, or the facts predate the endpoint). */
export function replicasRead(facts: Facts): ReplicasRead {
  const pods = facts.gatewayPodChains?.ok ? facts.gatewayPodChains.value : [];
  if (pods.length === 0) return undefined;
  const unread = pods.flatMap((p) => (p.ok ? [] : [{ pod: p.pod, error: p.error }]));
  return unread.length === 0 ? { all: true, pods: pods.map((p) => p.pod) } : { all: false, unread };
}

/** `gateway pod a`, `gateway pods a, b`, and the handshake's address when one is among them. */
export function namesOf(held: ReadonlyArray<{ pod?: string; by?: string }>): string {
  const pods = held.flatMap((c) => (c.pod ? [c.pod] : []));
  const named = pods.length === 0 ? [] : [`gateway pod${pods.length > 1 ? 's' : ''} ${pods.join(', ')}`];
  return [...named, ...held.flatMap((c) => (c.pod || !c.by ? [] : [c.by]))].join(' and ');
}

/**
 * Whom to restart so each takes a certificate of the issuer in force, and how: the pods named, or
 * every replica when one is known only by the handshake.
 */
export function restartOf(chains: readonly OwnGatewayChain[]): {
  whom: string;
  each: string;
  command: string;
} {
  const pods = chains.flatMap((c) => (c.pod ? [c.pod] : []));
  if (pods.length < chains.length || pods.length === 0)
    return { whom: 'every replica', each: 'each takes', command: RESTART_GATEWAYS };
  const one = pods.length === 1;
  return {
    whom: one ? 'it' : 'them',
    each: one ? 'it takes' : 'each takes',
    // The Deployment replaces them: only the replicas named restart.
    command: `kubectl -n ${SYSTEM_NAMESPACE} delete pod ${pods.join(' ')}`,
  };
}

/** The same leaf (by fingerprint: the handshake's PEM and the gateway's may wrap differently). */
function sameLeaf(a: readonly string[], b: readonly string[]): boolean {
  try {
    return parseCertificate(a[0] ?? '').fingerprint256 === parseCertificate(b[0] ?? '').fingerprint256;
  } catch {
    return false;
  }
}

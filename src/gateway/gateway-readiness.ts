/**
 * When a gateway is ready, and why not: pure decisions on what it has loaded and listed (/ready,
 * the gRPC health service, the probe path remote gateways ask).
 */
import type { Informer } from '../kube/informer.js';
import type { ProbeResult, Readiness } from './admin.js';

export interface ReadinessState {
  certificates: boolean;
  /** End of the certificate in use: once passed (renewal kept failing), every peer refuses it. */
  certificateNotAfter?: Date;
  egressApplied: boolean;
  draining?: boolean;
  /** --dial-pod-ips-only and the API server refuses to list Pods: why, as /ready says it. */
  podListRefused?: string;
  /** Why the CRL in force refuses the certificate in use (every peer refuses it), if it does. */
  ownRevocation?: () => string | undefined;
}

/**
 * Ready = certificates loaded, neither expired nor revoked by the CRL in force
 * (certificateProblem), every watcher has listed once (the Pods too with
 * --dial-pod-ips-only: until then nothing is dialled), the egress follows the mirrors, and not
 * shutting down. An expired certificate keeps the process live (the rotator
 * keeps retrying) but takes it out of its Services: no tunnel through it could open.
 */
export function readinessOf(
  state: ReadinessState,
  informers: Record<string, Pick<Informer<never>, 'hasSynced'>>,
  nowMs: number = Date.now(),
): Readiness {
  const reasons: string[] = [];
  if (state.draining) reasons.push('shutting down: draining tunnels');
  const certificate = certificateProblem(state, nowMs);
  if (certificate !== undefined) reasons.push(certificate);
  for (const [name, informer] of Object.entries(informers)) {
    if (!informer.hasSynced()) reasons.push(`${name} not synced`);
  }
  if (state.podListRefused !== undefined) reasons.push(state.podListRefused);
  if (state.certificates && !state.egressApplied) reasons.push('egress listeners not applied');
  return { ready: reasons.length === 0, reasons };
}

/**
 * Why this gateway holds no certificate a peer would take (none loaded yet, expired and not
 * renewed, or revoked by the CRL in force, which every peer that loaded it applies), else
 * undefined: it can then neither tunnel nor probe, whatever the remote does, and is not ready, so
 * its cluster's mirrors lose their endpoints and failover moves callers to what still works.
 */
export function certificateProblem(state: ReadinessState, nowMs: number = Date.now()): string | undefined {
  if (!state.certificates) return 'certificates not loaded';
  if (state.certificateNotAfter !== undefined && nowMs > state.certificateNotAfter.getTime())
    return `certificate expired at ${state.certificateNotAfter.toISOString()} and not renewed`;
  return state.ownRevocation?.();
}

/** A probe this gateway cannot make: its own failure (`local`), which tells nothing of the remote. */
export function cannotProbe(error: string): Promise<ProbeResult> {
  return Promise.resolve({ alive: false, latencyMs: 0, error, failure: 'local' });
}

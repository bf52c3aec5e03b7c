/**
 * Reading a TrafficSplit into the shape the failover decision works on. Pure: every way a split
 * can be unusable comes back as a reason (the same string goes to the condition, the Event and
 * the log), never as a throw, so one bad split cannot stop the others.
 */
import { FAILOVER_PRIMARY_ANNOTATION, FAILOVER_RESTORE_AFTER_ANNOTATION } from '../kube/keys.js';
import { parseQuantity } from '../kube/quantity.js';
import type { TrafficSplit } from '../kube/types.js';
import { parseDurationMs } from './duration.js';

export interface ParsedBackend {
  service: string;
  /** The weight as written, as a number (v1alpha1 quantities such as "500m" become 0.5). */
  weight: number;
}

export interface ParsedSplit {
  namespace: string;
  name: string;
  apex: string;
  backends: ParsedBackend[];
  /** `failover.linkerd.io/primary-service`, else the first backend (linkerd-failover's rule). */
  primary: string;
  /** `failover.isthmus.dev/restore-after`; 0 restores at once, as linkerd-failover does. */
  restoreAfterMs: number;
}

/**
 * Why a split is not acted on. Condition reasons, declared here:
 * - `NoBackends`: `spec.backends` is empty.
 * - `InvalidWeight`: a weight is not a non-negative number or quantity.
 * - `DuplicateBackend`: a backend is listed twice, so its weight is ambiguous.
 * - `UnknownPrimary`: the primary annotation names no backend of the split.
 * - `InvalidRestoreAfter`: the restore-after annotation is not a Go duration.
 * - `InvalidSplit`: anything else structurally wrong (no apex, a backend without a name).
 */
export type SplitInvalidReason =
  | 'NoBackends'
  | 'InvalidWeight'
  | 'DuplicateBackend'
  | 'UnknownPrimary'
  | 'InvalidRestoreAfter'
  | 'InvalidSplit';

export type ParseSplitResult =
  | { ok: true; split: ParsedSplit }
  | { ok: false; reason: SplitInvalidReason; message: string };

export function parseWeight(weight: unknown): number | null {
  if (typeof weight === 'number') return Number.isFinite(weight) && weight >= 0 ? weight : null;
  if (typeof weight === 'string') {
    const value = parseQuantity(weight);
    return value !== null && value >= 0 ? value : null;
  }
  return null;
}

export function parseSplit(split: TrafficSplit): ParseSplitResult {
  const namespace = split.metadata?.namespace ?? 'default';
  const name = split.metadata?.name ?? '';
  const fail = (reason: SplitInvalidReason, message: string): ParseSplitResult => ({
    ok: false,
    reason,
    message,
  });
  const apex = split.spec?.service;
  if (typeof apex !== 'string' || apex === '')
    return fail('InvalidSplit', 'spec.service (the apex) is empty');
  const raw = Array.isArray(split.spec.backends) ? split.spec.backends : [];
  if (raw.length === 0) return fail('NoBackends', 'spec.backends is empty');

  const backends: ParsedBackend[] = [];
  for (const [i, backend] of raw.entries()) {
    const service = backend?.service;
    if (typeof service !== 'string' || service === '') {
      return fail('InvalidSplit', `spec.backends[${i}].service is empty`);
    }
    const weight = parseWeight(backend.weight);
    if (weight === null) {
      return fail(
        'InvalidWeight',
        `backend ${service}: weight ${JSON.stringify(backend.weight)} is not a number`,
      );
    }
    if (backends.some((b) => b.service === service)) {
      return fail('DuplicateBackend', `backend ${service} is listed more than once`);
    }
    backends.push({ service, weight });
  }

  const annotations = split.metadata?.annotations ?? {};
  const primary = annotations[FAILOVER_PRIMARY_ANNOTATION] ?? backends[0]!.service;
  if (!backends.some((b) => b.service === primary)) {
    return fail('UnknownPrimary', `primary service ${primary} is not a backend of the split`);
  }

  let restoreAfterMs = 0;
  const restoreAfter = annotations[FAILOVER_RESTORE_AFTER_ANNOTATION];
  if (restoreAfter !== undefined) {
    const ms = parseDurationMs(restoreAfter);
    if (ms === null) {
      return fail(
        'InvalidRestoreAfter',
        `${FAILOVER_RESTORE_AFTER_ANNOTATION}: ${restoreAfter} is not a duration`,
      );
    }
    restoreAfterMs = ms;
  }
  return { ok: true, split: { namespace, name, apex, backends, primary, restoreAfterMs } };
}

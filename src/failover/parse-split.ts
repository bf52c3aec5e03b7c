/**
 * Reading a TrafficSplit into the shape the failover decision works on. Pure: every way a split
 * can be unusable comes back as a reason (the same string goes to the condition, the Event and
 * the log), never as a throw, so one bad split cannot stop the others. A bad optional
 * Isthmus-only annotation leaves the split usable (`restoreAfterInvalid`).
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
  /**
   * `failover.linkerd.io/primary-service`, else the first backend: Isthmus's contract
   * (shared/DESIGN.md, TrafficSplit), not linkerd-failover's, which skips a split without the annotation.
   */
  primary: string;
  /** `failover.isthmus.dev/restore-after`; 0 restores at once, as linkerd-failover does. */
  restoreAfterMs: number;
  /**
   * The restore-after annotation as written when it is no duration. An optional Isthmus-only knob
   * must not turn a linkerd-failover split's failover off: it is ignored (restoreAfterMs 0, no
   * hysteresis) and reported (split-status.ts, `RestoreAfter=False/InvalidRestoreAfter`).
   */
  restoreAfterInvalid?: string;
}

/**
 * Why a split is not acted on (`Accepted=False`). Condition reasons, declared here:
 * - `NoBackends`: `spec.backends` is empty.
 * - `InvalidWeight`: a weight is not a non-negative number or quantity.
 * - `DuplicateBackend`: a backend is listed twice, so its weight is ambiguous.
 * - `UnknownPrimary`: the primary annotation names no backend of the split.
 * - `InvalidSplit`: anything else structurally wrong (no apex, a backend without a name).
 * A restore-after that is no duration is none of these: the split is acted on without it.
 */
export type SplitInvalidReason =
  | 'NoBackends'
  | 'InvalidWeight'
  | 'DuplicateBackend'
  | 'UnknownPrimary'
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

/**
 * The weights as written, read leniently (a weight that is no number counts 0), and the primary
 * (the annotation when it names a backend, else the first backend): where the weights send
 * traffic, also for a split parseSplit refuses, whose weights stay as they are.
 */
export function writtenWeights(split: TrafficSplit): { backends: ParsedBackend[]; primary: string } {
  const raw = Array.isArray(split.spec?.backends) ? split.spec.backends : [];
  const backends = raw.map((b) => ({ service: b?.service ?? '', weight: parseWeight(b?.weight) ?? 0 }));
  const named = split.metadata?.annotations?.[FAILOVER_PRIMARY_ANNOTATION];
  const primary = backends.find((b) => b.service === named)?.service ?? backends[0]?.service ?? '';
  return { backends, primary };
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

  const parsed: ParsedSplit = { namespace, name, apex, backends, primary, restoreAfterMs: 0 };
  const restoreAfter = annotations[FAILOVER_RESTORE_AFTER_ANNOTATION];
  if (restoreAfter !== undefined) {
    const ms = parseDurationMs(restoreAfter);
    if (ms === null) parsed.restoreAfterInvalid = restoreAfter;
    else parsed.restoreAfterMs = ms;
  }
  return { ok: true, split: parsed };
}

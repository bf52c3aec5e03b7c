/**
 * The one order in which Isthmus lets the older of two objects win a claim: creationTimestamp
 * (whole seconds, as the API server writes it), then `namespace/name`. The gateway decides a
 * contested egress port with it, the mirror controller recovers ports and picks the Link that
 * mirrors a cluster with it: both sides must pick the same claim, so both use this function.
 */
import type { KubeObject } from './types.js';

export function oldestFirst(a: KubeObject, b: KubeObject): number {
  const ta = created(a);
  const tb = created(b);
  if (ta !== tb) return ta < tb ? -1 : 1;
  const ka = objectKey(a);
  const kb = objectKey(b);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

/** Not yet stored (no timestamp, as a test's object): the youngest. A Date from client-node too. */
function created(o: KubeObject): number {
  const t = o.metadata?.creationTimestamp as unknown;
  const ms = t instanceof Date ? t.getTime() : Date.parse(String(t ?? ''));
  return Number.isFinite(ms) ? ms : Number.POSITIVE_INFINITY;
}

function objectKey(o: KubeObject): string {
  return `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
}

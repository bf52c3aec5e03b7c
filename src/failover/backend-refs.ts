/**
 * The `ResolvedRefs` condition: whether every backend of a split names a Service it can read.
 * Pure. A backend that does not resolve counts as having no ready endpoint and the others keep
 * working (a typo in one backup must not freeze a linkerd-failover split's failover, as refusing it
 * would). Reasons, declared here:
 * - `InvalidBackend`: the name can be no Service's (not a DNS-1035 label), typically a namespaced
 *   one (`other/cart-west`, `cart-west.other`): SMI backends are Service names in the split's own
 *   namespace, and the API server never returns a Service of such a name.
 * - `BackendNotFound`: no Service of that name exists (yet) in the split's namespace.
 */
import type { ConditionInput } from './split-status.js';

/** A Service name: a DNS-1035 label (Kubernetes API conventions, "Names"): no `/`, no `.`. */
const SERVICE_NAME = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;

const SAME_NAMESPACE =
  "a backend is the name of a Service in the split's own namespace (SMI backends name no namespace): " +
  'a remote backend is its mirror <service>-<cluster>, in the namespace of the exported Service, where the split belongs';
const NOT_READY = 'counted as having no ready endpoint';

export function resolvedRefsCondition(
  backends: readonly string[],
  exists: (service: string) => boolean,
): ConditionInput {
  const invalid = backends.filter((b) => !SERVICE_NAME.test(b));
  const missing = backends.filter((b) => SERVICE_NAME.test(b) && !exists(b));
  const notFound = missing.length ? [`no Service named ${missing.join(', ')}`] : [];
  if (invalid.length) {
    const parts = [`${invalid.join(', ')} is no Service name`, SAME_NAMESPACE, ...notFound, NOT_READY];
    return { status: false, reason: 'InvalidBackend', message: parts.join('; ') };
  }
  if (missing.length)
    return { status: false, reason: 'BackendNotFound', message: `${notFound[0]}; ${NOT_READY}` };
  return { status: true, reason: 'ResolvedRefs', message: 'every backend is a Service' };
}

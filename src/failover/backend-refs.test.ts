import { describe, expect, it } from 'vitest';
import { resolvedRefsCondition } from './backend-refs.js';

const existing = new Set(['podinfo', 'podinfo-west']);
const exists = (service: string) => existing.has(service);
const SAME_NAMESPACE =
  "a backend is the name of a Service in the split's own namespace (SMI backends name no namespace): a remote backend is its mirror <service>-<cluster>, in the namespace of the exported Service, where the split belongs";

describe('resolvedRefsCondition', () => {
  it.each<[string, string[], string]>([
    ['every backend a Service', ['podinfo', 'podinfo-west'], 'True/ResolvedRefs: every backend is a Service'],
    [
      'a Service that does not exist',
      ['podinfo', 'podinfo-north'],
      'False/BackendNotFound: no Service named podinfo-north; counted as having no ready endpoint',
    ],
    [
      'namespace/name: never a Service of the namespace',
      ['podinfo', 'other/cart-west'],
      `False/InvalidBackend: other/cart-west is no Service name; ${SAME_NAMESPACE}; counted as having no ready endpoint`,
    ],
    [
      'name.namespace, even where a Service of that spelling could not exist',
      ['podinfo', 'cart-west.other', 'Cart'],
      `False/InvalidBackend: cart-west.other, Cart is no Service name; ${SAME_NAMESPACE}; counted as having no ready endpoint`,
    ],
    [
      'both: the invalid name first, the missing one said too',
      ['podinfo-north', 'other/cart-west'],
      `False/InvalidBackend: other/cart-west is no Service name; ${SAME_NAMESPACE}; no Service named podinfo-north; counted as having no ready endpoint`,
    ],
  ])('%s', (_name, backends, expected) => {
    const c = resolvedRefsCondition(backends, exists);
    expect(`${c.status ? 'True' : 'False'}/${c.reason}: ${c.message}`).toBe(expected);
  });
});

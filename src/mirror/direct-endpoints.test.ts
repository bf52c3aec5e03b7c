import { describe, expect, it } from 'vitest';
import type { V1EndpointSlice } from '../kube/types.js';
import { directEndpoints, MAX_SLICE_ENDPOINTS } from './direct-endpoints.js';

type Endpoint = NonNullable<V1EndpointSlice['endpoints']>[number];

function slice(
  endpoints: Endpoint[],
  opts: { addressType?: string; port?: number; name?: string } = {},
): V1EndpointSlice {
  return {
    metadata: { name: opts.name ?? 'web-abc', labels: { 'kubernetes.io/service-name': 'web' } },
    addressType: opts.addressType ?? 'IPv4',
    endpoints,
    ports: [{ name: 'http', port: opts.port ?? 8080, protocol: 'TCP' }],
  };
}

const ep = (address: string, ready?: boolean, extra: Partial<Endpoint> = {}): Endpoint => ({
  addresses: [address],
  ...(ready === undefined ? {} : { conditions: { ready } }),
  ...extra,
});

describe('directEndpoints', () => {
  it('lists every remote pod by address with explicit readiness, keeping hostname and serving/terminating', () => {
    const out = directEndpoints([
      slice([
        ep('10.0.0.2', false, { conditions: { ready: false, serving: true, terminating: true } }),
        ep('10.0.0.1', undefined, { hostname: 'web-0', nodeName: 'n1', zone: 'z', targetRef: { name: 'p' } }),
      ]),
    ]);
    expect(out).toEqual({
      addressType: 'IPv4',
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      endpoints: [
        // An absent `ready` is ready (discovery.k8s.io/v1): the mirror says so explicitly.
        { addresses: ['10.0.0.1'], conditions: { ready: true }, hostname: 'web-0' },
        { addresses: ['10.0.0.2'], conditions: { ready: false, serving: true, terminating: true } },
      ],
    });
  });

  it('merges the slices of one Service and lists a pod in two of them once, ready if either says so', () => {
    const out = directEndpoints([
      slice([ep('10.0.0.1', true), ep('10.0.0.3', false)], { name: 'a' }),
      slice([ep('10.0.0.2', true), ep('10.0.0.3', true)], { name: 'b' }),
    ]);
    expect(out.endpoints.map((e) => `${e.addresses[0]}=${e.conditions?.ready}`)).toEqual([
      '10.0.0.1=true',
      '10.0.0.2=true',
      '10.0.0.3=true',
    ]);
  });

  it('keeps the port set with the most ready pods when slices disagree', () => {
    const out = directEndpoints([
      slice([ep('10.0.0.1', true)], { port: 8080, name: 'old' }),
      slice([ep('10.0.0.2', true), ep('10.0.0.3', true)], { port: 9090, name: 'new' }),
    ]);
    expect(out.ports).toEqual([{ name: 'http', port: 9090, protocol: 'TCP' }]);
    expect(out.endpoints.map((e) => e.addresses[0])).toEqual(['10.0.0.2', '10.0.0.3']);
  });

  it('prefers IPv4 in a dual-stack tie, takes IPv6 alone, and skips FQDN slices', () => {
    const v4 = slice([ep('10.0.0.1', true)], { name: 'v4' });
    const v6 = slice([ep('fd00::1', true)], { addressType: 'IPv6', name: 'v6' });
    const fqdn = slice([ep('db.example.com', true)], { addressType: 'FQDN', name: 'f' });
    expect(directEndpoints([v6, v4]).addressType).toBe('IPv4');
    expect(directEndpoints([v6]).endpoints.map((e) => e.addresses[0])).toEqual(['fd00::1']);
    expect(directEndpoints([v6]).addressType).toBe('IPv6');
    expect(directEndpoints([fqdn])).toEqual({ addressType: 'IPv4', ports: [], endpoints: [] });
  });

  it("takes the local cluster's family from a dual-stack remote, even with fewer ready pods", () => {
    const v4 = slice([ep('10.0.0.1', true), ep('10.0.0.2', true)], { name: 'v4' });
    const v6 = slice([ep('fd00::1', true), ep('fd00::2', false)], { addressType: 'IPv6', name: 'v6' });
    expect(directEndpoints([v4, v6], 'IPv6').endpoints.map((e) => e.addresses[0])).toEqual([
      'fd00::1',
      'fd00::2',
    ]);
    expect(directEndpoints([v4, v6], 'IPv4').addressType).toBe('IPv4');
    expect(directEndpoints([v4, v6]).addressType).toBe('IPv4');
    // A remote of the other family alone is still listed: nothing better exists.
    expect(directEndpoints([v4], 'IPv6').addressType).toBe('IPv4');
  });

  it(`cuts at the API's ${MAX_SLICE_ENDPOINTS} endpoints per slice, ready pods first`, () => {
    const many = Array.from({ length: MAX_SLICE_ENDPOINTS + 5 }, (_, i) =>
      ep(`10.1.${i >> 8}.${i & 255}`, i % 2 === 0),
    );
    const out = directEndpoints([slice(many)]);
    expect(out.endpoints).toHaveLength(MAX_SLICE_ENDPOINTS);
    expect(out.endpoints.filter((e) => e.conditions?.ready)).toHaveLength(Math.ceil(many.length / 2));
  });

  it('drops what the API server never accepts in a slice, keeping loopback for it to judge', () => {
    const out = directEndpoints([
      slice([
        ep('169.254.169.254', true),
        ep('not-an-ip', true),
        ep('0.0.0.0', true),
        ep('224.0.0.1', true),
        ep('127.0.0.1', true),
        ep('10.0.0.1', true),
      ]),
    ]);
    expect(out.endpoints.map((e) => e.addresses[0])).toEqual(['10.0.0.1', '127.0.0.1']);
  });

  it('no slices: no endpoints and no ports', () => {
    expect(directEndpoints([])).toEqual({ addressType: 'IPv4', ports: [], endpoints: [] });
  });
});

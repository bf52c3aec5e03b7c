import { describe, expect, it } from 'vitest';
import { MAX_SLICE_ENDPOINTS } from '../kube/keys.js';
import type { V1EndpointSlice } from '../kube/types.js';
import { directEndpoints } from './direct-endpoints.js';

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

/** `port: address=ready …` per group, in the order the mirror's slices list them. */
const listed = (out: ReturnType<typeof directEndpoints>) =>
  out.groups.map(
    (g) =>
      `${g.ports.map((p) => p.port).join('+')}: ${g.endpoints.map((e) => `${e.addresses[0]}=${e.conditions?.ready}`).join(' ')}`,
  );
const addresses = (out: ReturnType<typeof directEndpoints>) =>
  out.groups.flatMap((g) => g.endpoints.map((e) => e.addresses[0]));

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
      groups: [
        {
          ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
          endpoints: [
            // An absent `ready` is ready (discovery.k8s.io/v1): the mirror says so explicitly.
            { addresses: ['10.0.0.1'], conditions: { ready: true }, hostname: 'web-0' },
            { addresses: ['10.0.0.2'], conditions: { ready: false, serving: true, terminating: true } },
          ],
        },
      ],
    });
  });

  it('merges the slices of one Service and lists a pod in two of them once, ready if either says so', () => {
    const out = directEndpoints([
      slice([ep('10.0.0.1', true), ep('10.0.0.3', false)], { name: 'a' }),
      slice([ep('10.0.0.2', true), ep('10.0.0.3', true)], { name: 'b' }),
    ]);
    expect(listed(out)).toEqual(['8080: 10.0.0.1=true 10.0.0.2=true 10.0.0.3=true']);
  });

  it('keeps every port set of the family when slices disagree (a named targetPort mid-rollout), ordered by ports', () => {
    const slices = [
      slice([ep('10.0.0.2', true), ep('10.0.0.3', true)], { port: 9090, name: 'new' }),
      slice([ep('10.0.0.4', false), ep('10.0.0.1', true)], { port: 8080, name: 'old' }),
      // An emptied slice of a finished rollout lists nothing: no group of its own.
      slice([], { port: 7070, name: 'older' }),
    ];
    const out = directEndpoints(slices);
    expect(listed(out)).toEqual(['8080: 10.0.0.1=true 10.0.0.4=false', '9090: 10.0.0.2=true 10.0.0.3=true']);
    // The slices in another order give the same groups: nothing churns across reconciles.
    expect(directEndpoints([...slices].reverse())).toEqual(out);
  });

  it('a pod in two port sets is two endpoints (address and port differ, as kube-proxy counts them)', () => {
    const out = directEndpoints([
      slice([ep('10.0.0.1', false)], { port: 8080, name: 'old' }),
      slice([ep('10.0.0.1', true)], { port: 9090, name: 'new' }),
    ]);
    expect(listed(out)).toEqual(['8080: 10.0.0.1=false', '9090: 10.0.0.1=true']);
  });

  it('prefers IPv4 in a dual-stack tie, takes IPv6 alone, and skips FQDN slices', () => {
    const v4 = slice([ep('10.0.0.1', true)], { name: 'v4' });
    const v6 = slice([ep('fd00::1', true)], { addressType: 'IPv6', name: 'v6' });
    const fqdn = slice([ep('db.example.com', true)], { addressType: 'FQDN', name: 'f' });
    expect(directEndpoints([v6, v4]).addressType).toBe('IPv4');
    expect(addresses(directEndpoints([v6]))).toEqual(['fd00::1']);
    expect(directEndpoints([v6]).addressType).toBe('IPv6');
    expect(directEndpoints([fqdn])).toEqual({ addressType: 'IPv4', groups: [] });
  });

  it("takes the local cluster's family from a dual-stack remote, even with fewer ready pods", () => {
    const v4 = slice([ep('10.0.0.1', true), ep('10.0.0.2', true)], { name: 'v4' });
    const v6 = slice([ep('fd00::1', true), ep('fd00::2', false)], { addressType: 'IPv6', name: 'v6' });
    expect(addresses(directEndpoints([v4, v6], 'IPv6'))).toEqual(['fd00::1', 'fd00::2']);
    expect(directEndpoints([v4, v6], 'IPv4').addressType).toBe('IPv4');
    expect(directEndpoints([v4, v6]).addressType).toBe('IPv4');
    // A remote of the other family alone is still listed: nothing better exists.
    expect(directEndpoints([v4], 'IPv6').addressType).toBe('IPv4');
  });

  it(`keeps every pod past the API's ${MAX_SLICE_ENDPOINTS} per slice (the mirror splits them), sorted by address`, () => {
    const many = Array.from({ length: 2 * MAX_SLICE_ENDPOINTS + 500 }, (_, i) =>
      ep(`10.1.${i >> 8}.${i & 255}`, i % 2 === 0),
    );
    const out = directEndpoints([
      slice(many.slice(0, MAX_SLICE_ENDPOINTS), { name: 'a' }),
      slice(many.slice(MAX_SLICE_ENDPOINTS), { name: 'b' }),
    ]);
    const listedAddresses = addresses(out);
    expect(listedAddresses).toHaveLength(many.length);
    expect(listedAddresses).toEqual([...listedAddresses].sort((a, b) => a!.localeCompare(b!)));
  });

  it('with no cluster family known, takes the family with the most ready pods across its port sets', () => {
    const v4 = [
      slice([ep('10.0.0.1', true), ep('10.0.0.2', true)], { port: 8080, name: 'a' }),
      slice([ep('10.0.0.3', true), ep('10.0.0.4', true)], { port: 9090, name: 'b' }),
    ];
    const v6 = slice([ep('fd00::1', true), ep('fd00::2', true), ep('fd00::3', true)], {
      addressType: 'IPv6',
      name: 'v6',
    });
    expect(directEndpoints([v6, ...v4]).addressType).toBe('IPv4');
    expect(directEndpoints([v6, ...v4], 'IPv6').addressType).toBe('IPv6');
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
    expect(addresses(out)).toEqual(['10.0.0.1', '127.0.0.1']);
  });

  it('no slices: no group; slices without a listable pod: their first port set, empty', () => {
    expect(directEndpoints([])).toEqual({ addressType: 'IPv4', groups: [] });
    const empty = directEndpoints([
      slice([ep('169.254.0.1', true)], { port: 9090 }),
      slice([], { port: 8080 }),
    ]);
    expect(empty.groups).toEqual([{ ports: [{ name: 'http', port: 8080, protocol: 'TCP' }], endpoints: [] }]);
  });
});

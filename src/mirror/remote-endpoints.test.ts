import { describe, expect, it } from 'vitest';
import type { V1EndpointSlice } from '../kube/types.js';
import { remoteEndpoints } from './remote-endpoints.js';

type Endpoint = NonNullable<V1EndpointSlice['endpoints']>[number];

const ep = (address: string, ready?: boolean, hostname?: string): Endpoint => ({
  addresses: [address],
  ...(ready === undefined ? {} : { conditions: { ready } }),
  ...(hostname ? { hostname } : {}),
});
const slice = (...endpoints: Endpoint[]): V1EndpointSlice => ({ addressType: 'IPv4', endpoints });

describe('remoteEndpoints', () => {
  it.each<[string, V1EndpointSlice[], ReturnType<typeof remoteEndpoints>]>([
    ['no slice', [], { ready: 0, hostnames: [], total: 0, named: false }],
    [
      'a slice with no endpoint',
      [{ addressType: 'IPv4', endpoints: [] }],
      { ready: 0, hostnames: [], total: 0, named: false },
    ],
    [
      'absent ready counts as ready',
      [slice(ep('10.0.0.1'))],
      { ready: 1, hostnames: [], total: 1, named: false },
    ],
    [
      'not ready: counted, not ready',
      [slice(ep('10.0.0.1', false), ep('10.0.0.2', true))],
      { ready: 1, hostnames: [], total: 2, named: false },
    ],
    [
      'a hostname of an unready pod names the Service, and is not listed',
      [slice(ep('10.0.0.1', false, 'web-0'))],
      { ready: 0, hostnames: [], total: 1, named: true },
    ],
    [
      'hostnames of ready pods, once each, sorted, across slices',
      [
        slice(ep('10.0.0.2', true, 'web-1'), ep('10.0.0.1', true, 'web-0')),
        slice(ep('10.0.0.3', true, 'web-1')),
      ],
      { ready: 3, hostnames: ['web-0', 'web-1'], total: 3, named: true },
    ],
  ])('%s', (_name, slices, expected) => {
    expect(remoteEndpoints(slices)).toEqual(expected);
  });
});

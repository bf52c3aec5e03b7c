import { describe, expect, it } from 'vitest';
import type { V1EndpointSlice } from '../../kube/types.js';
import { pickEndpoint } from './demo-apps.js';

function slice(service: string, ports: { name?: string; port: number }[], ready = [true]): V1EndpointSlice {
  return {
    metadata: { name: `${service}-x`, labels: { 'kubernetes.io/service-name': service } },
    addressType: 'IPv4',
    ports,
    endpoints: ready.map((r, i) => ({ addresses: [`10.0.0.${i + 1}`], conditions: { ready: r } })),
  };
}

describe('pickEndpoint (the lab frontend as kube-proxy)', () => {
  it('takes the named port of a ready endpoint of the Service', () => {
    const slices = [
      slice(
        'web',
        [
          { name: 'metrics', port: 9090 },
          { name: 'http', port: 8080 },
        ],
        [false, true],
      ),
    ];
    expect(pickEndpoint(slices, 'web', 'http')).toEqual({ host: '10.0.0.2', port: 8080 });
    expect(pickEndpoint(slices, 'other', 'http')).toBeUndefined();
  });

  it("takes a single-port Service's only port when it is unnamed (kubectl expose)", () => {
    expect(pickEndpoint([slice('web', [{ port: 8080 }])], 'web', 'http')).toEqual({
      host: '10.0.0.1',
      port: 8080,
    });
    // With several ports and none named so, there is no telling which one is meant.
    expect(
      pickEndpoint(
        [
          slice('web', [
            { name: 'a', port: 1 },
            { name: 'b', port: 2 },
          ]),
        ],
        'web',
        'http',
      ),
    ).toBeUndefined();
  });
});

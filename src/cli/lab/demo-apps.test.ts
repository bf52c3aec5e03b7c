import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import type { Informer } from '../../kube/informer.js';
import type { V1EndpointSlice } from '../../kube/types.js';
import { pickEndpoint, startFrontend } from './demo-apps.js';

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

describe('startFrontend', () => {
  it('calls from its own "pod IP", as a pod does, so the access logs name the frontend', async () => {
    let caller: string | undefined;
    const backend = createServer((req, res) => {
      caller = req.socket.remoteAddress;
      res.end('{"hostname":"podinfo-0"}');
    });
    await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
    const port = (backend.address() as AddressInfo).port;
    const slices = [slice('web', [{ name: 'http', port }])];
    slices[0]!.endpoints[0]!.addresses = ['127.0.0.1'];
    const frontend = await startFrontend({
      host: '127.0.0.2',
      port: 0,
      cluster: 'east',
      slices: { list: () => slices } as unknown as Informer<V1EndpointSlice>,
    });
    try {
      const res = await request(`${frontend.url}/web`);
      expect(JSON.parse(await res.body.text())).toEqual({
        frontend: 'east',
        service: 'web',
        upstream: { hostname: 'podinfo-0' },
      });
      expect(caller).toBe('127.0.0.2');
    } finally {
      await frontend.close();
      await new Promise<void>((r) => backend.close(() => r()));
    }
  });
});

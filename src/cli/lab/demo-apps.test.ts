import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import type { Informer } from '../../kube/informer.js';
import type { KubeObject, V1EndpointSlice, V1Service } from '../../kube/types.js';
import { pickEndpoint, type RunningServer, startFrontend } from './demo-apps.js';

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

const informer = <T extends KubeObject>(items: T[]) => ({ list: () => items }) as unknown as Informer<T>;
const service = (name: string): V1Service => ({ metadata: { name, namespace: 'test' } });

/** A backend on 127.0.0.1 answering `body`, and a frontend whose only Service `web` points at it. */
async function withBackend(
  body: string,
  test: (frontend: RunningServer) => Promise<void>,
): Promise<{ caller: string | undefined }> {
  const seen: { caller: string | undefined } = { caller: undefined };
  const backend = createServer((req, res) => {
    seen.caller = req.socket.remoteAddress;
    res.end(body);
  });
  await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
  const port = (backend.address() as AddressInfo).port;
  const slices = [slice('web', [{ name: 'http', port }])];
  slices[0]!.endpoints[0]!.addresses = ['127.0.0.1'];
  const frontend = await startFrontend({
    host: '127.0.0.2',
    port: 0,
    cluster: 'east',
    services: informer([service('web')]),
    slices: informer(slices),
  });
  try {
    await test(frontend);
  } finally {
    await frontend.close();
    await new Promise<void>((r) => backend.close(() => r()));
  }
  return seen;
}

/** The frontend's answer to GET `path`: its status and its body, which must be JSON. */
async function get(frontend: RunningServer, path: string): Promise<{ status: number; body: unknown }> {
  const res = await request(`${frontend.url}${path}`);
  return { status: res.statusCode, body: JSON.parse(await res.body.text()) };
}

describe('startFrontend', () => {
  it('calls from its own "pod IP", as a pod does, so the access logs name the frontend', async () => {
    const seen = await withBackend('{"hostname":"podinfo-0"}', async (frontend) => {
      expect(await get(frontend, '/web')).toEqual({
        status: 200,
        body: { frontend: 'east', service: 'web', upstream: { hostname: 'podinfo-0' } },
      });
    });
    expect(seen.caller).toBe('127.0.0.2');
  });

  it('embeds an upstream body that is not JSON as a JSON string', async () => {
    await withBackend('hello from my own west pod\n', async (frontend) => {
      expect(await get(frontend, '/web')).toEqual({
        status: 200,
        body: { frontend: 'east', service: 'web', upstream: 'hello from my own west pod\n' },
      });
    });
  });

  it('answers 404 for a Service the cluster does not have, 503 for one without a ready endpoint', async () => {
    const frontend = await startFrontend({
      host: '127.0.0.2',
      port: 0,
      cluster: 'east',
      services: informer([service('idle')]),
      // `gone` was unexported a moment ago: its Service is deleted, its slice not yet collected.
      slices: informer([
        slice('idle', [{ name: 'http', port: 9898 }], [false]),
        slice('gone', [{ port: 9898 }]),
      ]),
    });
    try {
      for (const name of ['nonexistent', 'gone']) {
        expect(await get(frontend, `/${name}`)).toEqual({
          status: 404,
          body: { frontend: 'east', service: name, error: `no Service test/${name} in cluster east` },
        });
      }
      expect(await get(frontend, '/idle')).toEqual({
        status: 503,
        body: { frontend: 'east', service: 'idle', error: 'no ready endpoint' },
      });
    } finally {
      await frontend.close();
    }
  });
});

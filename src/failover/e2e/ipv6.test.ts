/**
 * The whole data path on IPv6, as in an IPv6-only cluster: every API server, gateway, backend and
 * kube-proxy stand-in of the three clusters listens on ::1 (so the Links' credentials point at
 * `https://[::1]:<port>`), the Services get IPv6 cluster IPs from an IPv6 service CIDR, the
 * backends' EndpointSlices are IPv6 slices, and the Links name the remote gateways by IPv6 address. The
 * real mirror controller (probing through east's gateway), the real gateways and the failover
 * controller, as in data-path.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpGet } from '../../gateway/e2e/fixtures.js';
import { REMOTE_GATEWAY_ANNOTATION, SERVICE_NAME_LABEL, SYSTEM_NAMESPACE } from '../../kube/keys.js';
import { R } from '../../kube/resources.js';
import type { Link, TrafficSplit, V1EndpointSlice, V1Service } from '../../kube/types.js';
import { waitFor } from '../../mirror/test-wait.js';
import { trafficSplit } from '../test-builders.js';
import { NS, primarySlice, startWorld, type World } from './world.js';

const V6 = '::1';
let world: World;

beforeAll(async () => {
  world = await startWorld({ east: V6, west: V6, north: V6, proxy: V6, backend: V6, api: V6 });
}, 60_000);

afterAll(async () => {
  await world?.close();
});

const mirrorSlices = async (mirror: string) =>
  (
    await world.east.kube.list<V1EndpointSlice>(R.endpointSlices, {
      namespace: NS,
      labelSelector: `${SERVICE_NAME_LABEL}=${mirror}`,
    })
  ).items;

describe('the data path on IPv6 (three clusters on ::1)', () => {
  it('mirrors a remote Service as an IPv6 slice of the local gateway, with the remote gateway in brackets', async () => {
    expect(world.west.sandbox.url).toMatch(/^https:\/\/\[::1\]:\d+$/);
    for (const remote of [world.west, world.north]) {
      const mirror = await world.east.kube.get<V1Service>(R.services, NS, `podinfo-${remote.name}`);
      expect(mirror?.metadata?.annotations?.[REMOTE_GATEWAY_ANNOTATION]).toBe(
        `[::1]:${remote.gateway.ingress.address.port}`,
      );
      // An IPv6-only cluster gives the mirror Service IPv6, the family its slice must have.
      expect(mirror?.spec?.ipFamilies).toEqual(['IPv6']);
      const slices = await mirrorSlices(`podinfo-${remote.name}`);
      expect(slices).toHaveLength(1);
      expect(slices[0]).toMatchObject({
        addressType: 'IPv6',
        endpoints: [{ addresses: [V6], conditions: { ready: true } }],
      });
      // The probe went through east's gateway to the remote's ingress over IPv6.
      const link = await world.east.kube.get<Link>(R.links, SYSTEM_NAMESPACE, remote.name);
      expect(link?.status?.conditions).toContainEqual(
        expect.objectContaining({ type: 'GatewayAlive', status: 'True' }),
      );
    }
  });

  it('carries a caller in east to the backends of west and north through their mirrors', async () => {
    for (const remote of ['west', 'north']) {
      const proxy = await world.proxyFor(`podinfo-${remote}`);
      expect(proxy.endpoints()).toEqual([expect.stringMatching(/^::1:\d+$/)]);
      expect(await httpGet(proxy.host, proxy.port, '/')).toEqual({
        status: 200,
        body: `hello from ${remote}`,
      });
    }
  });

  it('fails the apex over to the remotes when the local IPv6 backend is not ready, and back', async () => {
    await world.east.kube.create(
      R.trafficSplitsV1alpha2,
      trafficSplit(NS, 'podinfo', 'podinfo', [
        { service: 'podinfo', weight: 1 },
        { service: 'podinfo-west', weight: 0 },
        { service: 'podinfo-north', weight: 0 },
      ]),
    );
    const state = async () =>
      (await world.east.kube.get<TrafficSplit>(R.trafficSplitsV1alpha2, NS, 'podinfo'))?.status?.state;
    const servedBy = async () => {
      const res = await httpGet(world.apex.host, world.apex.port, '/', 2_000).catch(() => undefined);
      return res?.body.replace('hello from ', '');
    };
    const setPrimaryReady = (ready: boolean) =>
      world.east.kube.patch(R.endpointSlices, NS, primarySlice(0, ready).metadata!.name!, {
        endpoints: [{ addresses: [V6], conditions: { ready } }],
      });

    await waitFor(async () => (await state()) === 'Primary', { what: 'split Primary' });
    expect(await servedBy()).toBe('east');

    await setPrimaryReady(false);
    await waitFor(async () => ['west', 'north'].includes((await servedBy()) ?? ''), {
      timeoutMs: 15_000,
      what: 'the apex served by a remote over IPv6',
    });
    // The apex slices the failover controller wrote for the remotes are IPv6 slices too.
    const apex = (await mirrorSlices('podinfo')).filter((s) => s.metadata?.name !== 'podinfo-abcde');
    expect(apex.length).toBeGreaterThan(0);
    for (const slice of apex) expect(slice.addressType).toBe('IPv6');

    await setPrimaryReady(true);
    await waitFor(async () => (await state()) === 'Primary', { what: 'split back to Primary' });
  });
});

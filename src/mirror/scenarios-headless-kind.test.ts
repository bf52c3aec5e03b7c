/**
 * Which kind of mirror a headless remote Service gets with the Link's `mirrorHeadless`: a headless
 * parent with per-pod mirrors while its endpoints name a pod (a StatefulSet's), an ordinary mirror
 * through the gateway while they name none (a Deployment behind a headless Service, for client-side
 * gRPC balancing), which an empty headless parent left callers resolving nothing.
 */
import { describe, expect, it } from 'vitest';
import { EGRESS_PORTS_ANNOTATION, HEADLESS_MIRROR_LABEL } from '../kube/keys.js';
import { R } from '../kube/resources.js';
import {
  exportService,
  getService,
  getSlice,
  link,
  mirrorIdentityOf,
  setRemoteEndpoints,
  waitFor,
  waitReady,
  worldPerTest,
} from './test-harness.js';

const startWorld = worldPerTest();

describe('a headless remote Service with mirrorHeadless', () => {
  it('whose pods have no hostname is mirrored through the gateway, keeps that mirror while it has no pods, and turns headless once its pods are named', async () => {
    const world = await startWorld(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    await exportService(west, 'grpc', { headless: true, ready: 2 });
    await link(east, west, 'west', { mirrorHeadless: true });
    world.controller('east');

    // An ordinary mirror: a cluster IP, an egress port, the local gateway as its endpoint.
    const slice = await waitReady(east, 'default', 'grpc-west');
    expect(slice.endpoints?.map((e) => e.addresses)).toEqual([['10.0.0.5']]);
    const mirror = await getService(east, 'default', 'grpc-west');
    expect(mirror?.spec?.clusterIP).not.toBe('None');
    expect(mirror?.metadata?.annotations?.[EGRESS_PORTS_ANNOTATION]).toMatch(/^http=\d+$/);

    // Scaled to zero: nothing says which kind, so the mirror (and its cluster IP) stays.
    await west.client.delete(R.endpointSlices, 'default', 'grpc-abc');
    await waitFor(async () => (await getSlice(east, 'default', 'grpc-west'))?.endpoints?.length === 0, {
      what: 'grpc-west without endpoints',
    });
    expect(mirrorIdentityOf(await getService(east, 'default', 'grpc-west'))).toEqual(
      mirrorIdentityOf(mirror),
    );

    // Named pods (now a StatefulSet's): a headless parent and a per-pod mirror.
    await setRemoteEndpoints(west, 'default', 'grpc', 1, ['grpc-0']);
    await waitReady(east, 'default', 'grpc-0-west');
    expect(
      (await getService(east, 'default', 'grpc-0-west'))?.metadata?.labels?.[HEADLESS_MIRROR_LABEL],
    ).toBe('grpc-west');
    const parent = await waitFor(
      async () => {
        const s = await getSlice(east, 'default', 'grpc-west');
        return s?.endpoints?.[0]?.hostname === 'grpc-0' ? s : undefined;
      },
      { what: 'headless parent listing grpc-0' },
    );
    expect(parent.endpoints).toHaveLength(1);
    expect((await getService(east, 'default', 'grpc-west'))?.spec?.clusterIP).toBe('None');
  });

  it('a headless mirror whose pods lose their names becomes an ordinary one, its per-pod mirrors gone', async () => {
    const world = await startWorld(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    await exportService(west, 'db', { headless: true, ready: 1, hostnames: ['db-0'] });
    await link(east, west, 'west', { mirrorHeadless: true });
    world.controller('east');
    await waitReady(east, 'default', 'db-0-west');
    expect((await getService(east, 'default', 'db-west'))?.spec?.clusterIP).toBe('None');

    // The same pods without hostnames (a Deployment now): a headless mirror would list none.
    await setRemoteEndpoints(west, 'default', 'db', 1, ['']);
    const plain = await waitFor(
      async () => {
        const s = await getService(east, 'default', 'db-west');
        return s?.spec?.clusterIP && s.spec.clusterIP !== 'None' ? s : undefined;
      },
      { what: 'db-west an ordinary mirror' },
    );
    expect(plain.metadata?.annotations?.[EGRESS_PORTS_ANNOTATION]).toMatch(/^http=\d+$/);
    const slice = await waitReady(east, 'default', 'db-west');
    expect(slice.endpoints?.map((e) => e.addresses)).toEqual([['10.0.0.5']]);
    await waitFor(async () => !(await getService(east, 'default', 'db-0-west')), {
      what: 'per-pod mirror db-0-west gone',
    });
  });
});

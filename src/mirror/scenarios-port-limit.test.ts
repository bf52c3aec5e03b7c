/**
 * A remote Service with more ports than an EndpointSlice holds: refused before anything is written
 * or any egress port is taken, and a mirror that grows past the limit goes (with its ports).
 */
import { describe, expect, it, vi } from 'vitest';
import { R } from '../kube/resources.js';
import type { V1Service } from '../kube/types.js';
import { mirrorOwner } from './port-allocator.js';
import {
  exportService,
  getLink,
  getService,
  link,
  waitFor,
  waitReady,
  worldPerTest,
} from './test-harness.js';

const startWorld = worldPerTest();
/** kube-apiserver's limit on an EndpointSlice's ports (discovery validation `maxPorts`). */
const MAX_SLICE_PORTS = 20_000;

const manyPorts = (count: number) =>
  Array.from({ length: count }, (_, i) => ({ name: `p${i + 1}`, port: i + 1, protocol: 'TCP' }));

describe('the EndpointSlice port limit', () => {
  it('a Service past it is InvalidService with no egress port taken; a mirror that grows past it is deleted and frees its ports', async () => {
    const world = await startWorld(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    await exportService(west, 'grows', { ready: 1 });
    await exportService(west, 'huge', { ready: 1, ports: manyPorts(MAX_SLICE_PORTS + 1) });
    await link(east, west, 'west');
    // Widened so that the range is not what refuses 20,001 ports.
    const { ctl } = world.controller('east', { egressPortRange: { first: 30000, last: 60000 } });
    const allocate = vi.spyOn(ctl.allocator, 'allocate');
    await waitReady(east, 'default', 'grows-west');
    const message = `${MAX_SLICE_PORTS + 1} TCP ports: a mirror's EndpointSlice holds at most ${MAX_SLICE_PORTS} ports (the Kubernetes API's limit), so it is not mirrored`;
    const reasonOf = async (name: string) =>
      (await getLink(east, 'west'))?.status?.services?.find((s) => s.name === name);
    expect(await waitFor(() => reasonOf('huge'), { what: 'huge in status.services' })).toMatchObject({
      reason: 'InvalidService',
      message,
    });
    expect(await getService(east, 'default', 'huge-west')).toBeUndefined();

    const svc = await west.client.get<V1Service>(R.services, 'default', 'grows');
    await west.client.replace(R.services, {
      ...svc,
      spec: { ...svc!.spec, ports: manyPorts(MAX_SLICE_PORTS + 1) },
    });
    await waitFor(async () => (await reasonOf('grows'))?.message === message, { what: 'grows refused' });
    await waitFor(async () => !(await getService(east, 'default', 'grows-west')), {
      what: 'grows-west deleted',
    });
    expect(ctl.allocator.owned(mirrorOwner('west', 'default', 'grows-west')).size).toBe(0);
    const owners = allocate.mock.calls.map(([owner]) => owner);
    expect(owners).not.toContain(mirrorOwner('west', 'default', 'huge-west'));
    expect(owners.filter((o) => o === mirrorOwner('west', 'default', 'grows-west')).length).toBeGreaterThan(
      0,
    );
    // Every allocation for grows-west asked for the one port it had, never for 20,001.
    for (const [owner, keys] of allocate.mock.calls)
      if (owner === mirrorOwner('west', 'default', 'grows-west')) expect(keys).toEqual(['http']);
  });
});

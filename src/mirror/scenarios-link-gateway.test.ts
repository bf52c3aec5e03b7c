/**
 * Link edits of the remote gateway (address, port) and of its probe: the liveness known of the old
 * gateway is not carried over to the new one, which is probed at once (Linkerd's service mirror
 * restarts its probe worker on such an edit), and the mirrors lead to the new gateway at once.
 */
import { describe, expect, it } from 'vitest';
import { REMOTE_GATEWAY_ANNOTATION } from '../kube/keys.js';
import {
  condition,
  eastMirrorsWest,
  editLinkSpec,
  exportService,
  getLink,
  getService,
  link,
  recordService,
  remoteGatewayOf,
  setRemoteGatewayLB,
  waitFor,
  waitReady,
  worldPerTest,
} from './test-harness.js';

const startWorld = worldPerTest();

/** The Link's GatewayAlive condition once it speaks of `generation` (the edit). */
function gatewayAliveOf(cluster: Parameters<typeof getLink>[0], generation: number | undefined) {
  return waitFor(
    async () => {
      const c = condition(await getLink(cluster, 'west'), 'GatewayAlive');
      return c?.observedGeneration === generation ? c : undefined;
    },
    { what: 'GatewayAlive of the edit' },
  );
}

/** A long period: any probe soon after an edit was made for the edit, not by the period. */
const slowProbe = { probeSpec: { period: '60s', timeout: '1s', failureThreshold: 1 } };

describe('Link edits of the remote gateway', () => {
  it('a gatewayPort edit is probed at once and the mirrors lead to the new port', async () => {
    const world = await startWorld(['east', 'west']);
    const { east } = await eastMirrorsWest(world, 'web', slowProbe);
    const annotation = () => remoteGatewayOf(east, 'default', 'web-west');
    expect(await annotation()).toBe('10.1.0.1:4143');

    // Nothing answers on the new port.
    world.probe.dead.add('10.1.0.1:4200');
    await editLinkSpec(east, 'west', (spec) => ({ ...spec, gatewayPort: 4200 }));
    const generation = (await getLink(east, 'west'))?.metadata?.generation;
    await waitFor(async () => (await annotation()) === '10.1.0.1:4200', {
      what: 'annotation of the new port',
    });
    await waitFor(() => world.probe.seen.includes('10.1.0.1:4200'), {
      timeoutMs: 3_000,
      what: 'the new port probed at once, not a period later',
    });
    await waitReady(east, 'default', 'web-west', false, 3_000);
    const gateway = await gatewayAliveOf(east, generation);
    expect(gateway.status).toBe('False');
  });

  it('a gatewayAddress edit does not say the new address is alive before it has answered', async () => {
    const world = await startWorld(['east', 'west']);
    // Three failures make it dead: a period of 60 s leaves the edit its first failure only.
    const { east } = await eastMirrorsWest(world, 'web', {
      probeSpec: { period: '60s', timeout: '1s', failureThreshold: 3 },
    });
    await waitFor(async () => condition(await getLink(east, 'west'), 'GatewayAlive')?.status === 'True');

    world.probe.dead.add('10.1.0.9:4143');
    await editLinkSpec(east, 'west', (spec) => ({ ...spec, gatewayAddress: '10.1.0.9' }));
    const generation = (await getLink(east, 'west'))?.metadata?.generation;
    await waitFor(() => world.probe.seen.includes('10.1.0.9:4143'), {
      timeoutMs: 3_000,
      what: 'the new address probed at once',
    });
    const gateway = await gatewayAliveOf(east, generation);
    // One failure of three: not known dead yet, and certainly not known alive.
    expect(gateway.status).toBe('Unknown');
    expect(gateway.message).toMatch(/10\.1\.0\.9:4143/);
  });

  it('a probeSpec.path edit is probed at once', async () => {
    const world = await startWorld(['east', 'west']);
    const { east } = await eastMirrorsWest(world, 'web', slowProbe);
    const before = world.probe.seen.length;
    await editLinkSpec(east, 'west', (spec) => ({
      ...spec,
      probeSpec: { ...spec.probeSpec, path: '/live' },
    }));
    await waitFor(() => world.probe.seen.length > before, { timeoutMs: 3_000, what: 'probed at once' });
  });

  it("a selector edit (a reconnect) keeps the remote LB's address: the Link's gatewayAddress is not dialled or written meanwhile", async () => {
    const world = await startWorld(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    await setRemoteGatewayLB(west, ['10.7.0.1']);
    await exportService(west, 'web', { ready: 1, labels: { tier: 'web' } });
    // The Link's gatewayAddress (10.1.0.1, what `isthmus link` saw once) no longer answers.
    world.probe.dead.add('10.1.0.1:4143');
    await link(east, west, 'west', { probeSpec: { period: '60s', timeout: '1s', failureThreshold: 1 } });
    world.controller('east');
    await waitReady(east, 'default', 'web-west');
    const annotation = () => remoteGatewayOf(east, 'default', 'web-west');
    await waitFor(async () => (await annotation()) === '10.7.0.1:4143', { what: 'the LB address' });
    await waitReady(east, 'default', 'web-west');
    // Every version of the mirror the watch delivers, each one's annotation read as it arrives.
    const recorded = await recordService(east, 'default', 'web-west');
    const seenBefore = world.probe.seen.length;
    try {
      for (let i = 0; i < 5; i++) {
        await editLinkSpec(east, 'west', (spec) => ({
          ...spec,
          selector: {
            matchLabels: { 'mirror.linkerd.io/exported': 'true', ...(i % 2 ? {} : { tier: 'web' }) },
          },
        }));
        const generation = (await getLink(east, 'west'))?.metadata?.generation;
        await waitFor(async () => (await getLink(east, 'west'))?.status?.observedGeneration === generation, {
          what: 'the edit observed',
        });
      }
      await waitReady(east, 'default', 'web-west');
    } finally {
      await recorded.stop();
    }
    const written = recorded.objects.map((s) => s.metadata?.annotations?.[REMOTE_GATEWAY_ANNOTATION]);
    expect(written.length).toBeGreaterThan(0); // at least the listed mirror
    expect(written.filter((a) => a !== '10.7.0.1:4143')).toEqual([]);
    expect(world.probe.seen.slice(seenBefore).filter((g) => g !== '10.7.0.1:4143')).toEqual([]);
  });

  it("at start-up the remote LB's address is probed, not first the Link's stale gatewayAddress", async () => {
    const world = await startWorld(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    await setRemoteGatewayLB(west, ['10.7.0.1']);
    await exportService(west, 'web', { ready: 1 });
    world.probe.dead.add('10.1.0.1:4143');
    await link(east, west, 'west', { probeSpec: { period: '60s', timeout: '1s', failureThreshold: 1 } });
    const recorded = await recordService(east, 'default', 'web-west');
    world.controller('east');
    await waitReady(east, 'default', 'web-west');
    await waitFor(async () => condition(await getLink(east, 'west'), 'GatewayAlive')?.status === 'True');
    expect(world.probe.seen).toEqual(['10.7.0.1:4143']);
    // Created with the LB's address, never rewritten.
    expect(recorded.seen.filter((e) => e.startsWith('add'))).toHaveLength(1);
    expect(recorded.seen).toHaveLength(1);
    await recorded.stop();
  });

  it('a controller restarted after the remote gateway moved names the new address in the status, which the local gateway needs before it will probe it', async () => {
    const world = await startWorld(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    await setRemoteGatewayLB(west, ['10.7.0.1']);
    await exportService(west, 'web', { ready: 1 });
    // One failure is death: a probe refused for want of a Link naming the address would show.
    await link(east, west, 'west', { probeSpec: { period: '60s', timeout: '1s', failureThreshold: 1 } });
    const first = world.controller('east');
    await waitReady(east, 'default', 'web-west');
    await waitFor(async () => condition(await getLink(east, 'west'), 'GatewayAlive')?.status === 'True');
    await first.stop();

    await setRemoteGatewayLB(west, ['10.7.0.2']);
    world.controller('east');
    await waitFor(async () => (await getLink(east, 'west'))?.status?.gatewayAddresses?.[0] === '10.7.0.2', {
      what: 'the new address in the status',
    });
    await waitFor(async () => condition(await getLink(east, 'west'), 'GatewayAlive')?.status === 'True', {
      what: 'the moved gateway alive',
    });
    expect(world.probe.refused).toEqual([]);
    expect(world.probe.seen.at(-1)).toBe('10.7.0.2:4143');
    await waitFor(
      async () =>
        (await getService(east, 'default', 'web-west'))?.metadata?.annotations?.[
          REMOTE_GATEWAY_ANNOTATION
        ] === '10.7.0.2:4143',
      { what: 'the mirror leading to the moved gateway' },
    );
    await waitReady(east, 'default', 'web-west');
  });
});

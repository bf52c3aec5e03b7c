/**
 * A Link's troubles reach `kubectl describe link` as Events, not only its conditions: a remote
 * gateway going dead is a Warning on the Link, its return a Normal (link-events.ts decides which).
 */
import { describe, expect, it } from 'vitest';
import { SYSTEM_NAMESPACE } from '../kube/keys.js';
import { R } from '../kube/resources.js';
import type { CoreV1Event } from '../kube/types.js';
import { condition, eastMirrorsWest, getLink, waitFor, worldPerTest } from './test-harness.js';

const startWorld = worldPerTest();

/** A fast probe: dead after one failure, probed every 100 ms. */
const quickProbe = { probeSpec: { period: '100ms', timeout: '1s', failureThreshold: 1 } };

describe('Link Events', () => {
  it('a remote gateway going dead and coming back is a Warning and then a Normal Event on the Link', async () => {
    const world = await startWorld(['east', 'west']);
    const { east } = await eastMirrorsWest(world, 'web', quickProbe);
    const events = async () =>
      (await east.client.list<CoreV1Event>(R.events, { namespace: SYSTEM_NAMESPACE })).items.filter(
        (e) => e.involvedObject?.kind === 'Link' && e.involvedObject.name === 'west',
      );
    // A healthy new Link says nothing: not its first probe, nor a remote API "unreachable" before
    // it was first tried.
    await waitFor(async () => condition(await getLink(east, 'west'), 'GatewayAlive')?.status === 'True', {
      what: 'GatewayAlive=True',
    });
    expect((await events()).map((e) => `${e.type} ${e.reason}`)).toEqual([]);

    world.probe.dead.add('10.1.0.1:4143');
    const dead = await waitFor(async () => (await events()).find((e) => e.reason === 'ProbeFailed'), {
      what: 'a ProbeFailed Event',
    });
    expect(dead.type).toBe('Warning');
    expect(dead.message).toMatch(/^GatewayAlive: /);

    world.probe.dead.delete('10.1.0.1:4143');
    const back = await waitFor(async () => (await events()).find((e) => e.reason === 'ProbeSucceeded'), {
      what: 'a ProbeSucceeded Event',
    });
    expect(back.type).toBe('Normal');
  });
});

/**
 * What the controller's log says of a remote gateway's liveness, line by line as a log pipeline
 * parses it: a gateway gone dead takes its mirrors' endpoints out of service, which is what pages,
 * so it is a warning that says why (the probe's error); back alive is info.
 */
import { describe, expect, it } from 'vitest';
import { capturedLog, exportService, link, waitReady, worldPerTest } from './test-harness.js';

const startWorld = worldPerTest();

describe('the log of a remote gateway going dead and coming back', () => {
  it('is a warning with the probe error when it goes dead, info when it is alive again', async () => {
    const world = await startWorld(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    await exportService(west, 'podinfo', { ready: 1 });
    await link(east, west, 'west', { probeSpec: { period: '100ms', timeout: '500ms', failureThreshold: 2 } });
    const { log, lines } = capturedLog('east');
    world.controller('east', { log });
    await waitReady(east, 'default', 'podinfo-west', true);

    world.probe.dead.add('10.1.0.1:4143');
    await waitReady(east, 'default', 'podinfo-west', false);
    world.probe.dead.clear();
    await waitReady(east, 'default', 'podinfo-west', true);

    const changes = lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.msg === 'remote gateway liveness changed');
    const ofWest = { link: 'isthmus-system/west', target_cluster: 'west', cluster: 'east' };
    expect(changes).toEqual([
      expect.objectContaining({ level: 30, alive: true, ...ofWest }),
      expect.objectContaining({ level: 40, alive: false, reason: 'stub: gateway dead', ...ofWest }),
      expect.objectContaining({ level: 30, alive: true, ...ofWest }),
    ]);
  });
});

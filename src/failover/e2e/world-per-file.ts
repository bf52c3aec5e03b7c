/** A test file's world (world.ts), kept apart from it: the failover bench imports world.ts without vitest. */
import { afterAll, beforeAll } from 'vitest';
import { startWorld, type World, type WorldHosts } from './world.js';

/**
 * One world for a test file: started before its tests, closed after them. The getter reads the
 * world its tests run in.
 */
export function worldPerFile(hosts: WorldHosts): () => World {
  let world: World | undefined;
  beforeAll(async () => {
    world = await startWorld(hosts);
  }, 60_000);
  afterAll(async () => {
    await world?.close();
  });
  return () => {
    if (world === undefined) throw new Error('the world is not started');
    return world;
  };
}

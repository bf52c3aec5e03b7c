import { afterEach, describe, expect, it } from 'vitest';
import { IsthmusError } from '../errors.js';
import { waitFor } from '../wait-for.js';
import type { KubeClient } from './client.js';
import { createInformer, type Informer, type InformerHealth } from './informer.js';
import { R } from './resources.js';

const stops: Informer<never>[] = [];
afterEach(async () => {
  for (const i of stops.splice(0)) await i.stop();
});

/** A client whose lists fail with the given errors in turn, the last one for good. */
function failingClient(errors: Error[]): { client: KubeClient; lists: () => number } {
  let lists = 0;
  const client = {
    list: async () => {
      const err = errors[Math.min(lists, errors.length - 1)] as Error;
      lists++;
      throw err;
    },
    watch: async () => {
      throw new Error('no watch before a list');
    },
  } as unknown as KubeClient;
  return { client, lists: () => lists };
}

describe('informer health', () => {
  it('reports a new kind of failure while still failing, and a repeated one once', async () => {
    const unreachable = new IsthmusError('KUBE_REQUEST_FAILED', 'connect ECONNREFUSED 10.96.0.1:443');
    const forbidden = new IsthmusError('KUBE_FORBIDDEN', 'pods is forbidden', { terminal: true });
    const { client, lists } = failingClient([unreachable, forbidden]);
    const informer = createInformer<never>(client, R.pods, { backoff: { initialMs: 1, maxMs: 2 } });
    stops.push(informer);
    const health: InformerHealth[] = [];
    informer.onHealth((h) => health.push(h));
    informer.start();
    // Several 403s after the first one: reported once, as the API server's answer changed.
    await waitFor('five lists', () => lists() >= 5, 5_000);
    expect(health).toEqual([
      { connected: false, lastError: unreachable },
      { connected: false, lastError: forbidden },
    ]);
  });
});

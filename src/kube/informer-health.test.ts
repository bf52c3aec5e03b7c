import { PassThrough } from 'node:stream';
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

describe('a watch silent past its own end', () => {
  it('is a dead connection, reported as such, not a watch the server ended', async () => {
    let watches = 0;
    const client = {
      closed: false,
      list: async () => ({ items: [], resourceVersion: '1' }),
      watch: async () => {
        watches++;
        // What undici's body timeout raises on a stream that stayed silent past idleTimeoutMs.
        const body = new PassThrough();
        setImmediate(() =>
          body.destroy(Object.assign(new Error('Body Timeout Error'), { code: 'UND_ERR_BODY_TIMEOUT' })),
        );
        return body;
      },
    } as unknown as KubeClient;
    const informer = createInformer<never>(client, R.pods, {
      backoff: { initialMs: 1, maxMs: 2 },
      watchTimeoutSeconds: 1,
    });
    stops.push(informer);
    const health: InformerHealth[] = [];
    informer.onHealth((h) => health.push(h));
    informer.start();
    await waitFor('reported', () => health.some((h) => !h.connected), 5_000);
    const lost = health.find((h) => !h.connected)?.lastError as IsthmusError | undefined;
    expect(lost?.code).toBe('KUBE_API_UNAVAILABLE');
    expect(lost?.message).toMatch(/nothing received for 61 s/);
    expect(watches).toBeGreaterThanOrEqual(1);
  });
});

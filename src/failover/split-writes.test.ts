/**
 * writeStatus's 404 against a fake API server: the one answer the sandbox cannot time, a split
 * deleted and created again under its name between the status write's read and its PUT.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import { IsthmusError } from '../errors.js';
import type { KubeClient } from '../kube/client.js';
import type { TrafficSplit } from '../kube/types.js';
import type { FailoverMemory } from './decide-weights.js';
import type { SplitOutcome } from './split-status.js';
import { currentStatus, statusUnsupportedChannel, writeStatus } from './split-writes.js';
import { trafficSplit } from './test-builders.js';

const NS = 'shop';

const split = (name: string, uid: string): TrafficSplit => {
  const s = trafficSplit(NS, name, 'podinfo', [
    { service: 'podinfo', weight: 1 },
    { service: 'podinfo-west', weight: 0 },
  ]);
  s.metadata = { ...s.metadata, uid, resourceVersion: '1' };
  return s;
};

const outcome: SplitOutcome = {
  generation: 1,
  state: 'Primary',
  activeBackends: ['podinfo'],
  conditions: {},
};
const notFound = () => new IsthmusError('KUBE_NOT_FOUND', 'the server could not find the requested resource');

/** `status(name, body)` answers each status PUT: the stored split, or a throw. */
function fakeApi(status: (name: string, api: Map<string, TrafficSplit>) => void) {
  const api = new Map([
    ['a', split('a', 'uid-a1')],
    ['b', split('b', 'uid-b')],
  ]);
  const client = {
    get: async (_res: unknown, _ns: string, name: string) => structuredClone(api.get(name)),
    replaceStatus: async (_res: unknown, body: TrafficSplit) => {
      const name = body.metadata?.name ?? '';
      status(name, api);
      api.set(name, { ...api.get(name)!, status: structuredClone(body.status) });
      return body;
    },
  } as unknown as KubeClient;
  const published: unknown[] = [];
  const onPublish = (message: unknown) => published.push(message);
  statusUnsupportedChannel.subscribe(onPublish);
  onTestFinished(() => {
    statusUnsupportedChannel.unsubscribe(onPublish);
  });
  const deps = { client, now: () => 1_000_000, memories: new Map<string, FailoverMemory>() };
  return { api, deps, published };
}

describe('writeStatus: a 404 on /status', () => {
  it('for a split created again under its name meanwhile is retried, and the run keeps writing statuses', async () => {
    let raced = false;
    const { api, deps, published } = fakeApi((name, stored) => {
      if (name !== 'a' || raced) return;
      // `a` deleted (this PUT finds nothing) and created again at once (kubectl replace --force).
      raced = true;
      stored.set('a', split('a', 'uid-a2'));
      throw notFound();
    });
    await expect(writeStatus(deps, `${NS}/a`, split('a', 'uid-a1'), outcome)).rejects.toThrow(/not find/);
    expect(await writeStatus(deps, `${NS}/b`, split('b', 'uid-b'), outcome)).toBe(true);
    expect(api.get('b')?.status?.state).toBe('Primary');
    expect(published).toEqual([]);
  });

  it('for the same split (a CRD without a status subresource) keeps statuses in memory, said once', async () => {
    const { deps, published } = fakeApi(() => {
      throw notFound();
    });
    const a = split('a', 'uid-a1');
    expect(await writeStatus(deps, `${NS}/a`, a, outcome)).toBe(true);
    expect(await writeStatus(deps, `${NS}/b`, split('b', 'uid-b'), outcome)).toBe(true);
    expect(currentStatus(deps, `${NS}/a`, a)?.state).toBe('Primary');
    expect(published).toEqual([{ key: `${NS}/a` }]);
  });
});

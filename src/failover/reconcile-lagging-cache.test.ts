/**
 * reconcileSplit against an informer cache a step behind the API server, and against splits that
 * change hands (steer-only and back). A fake API server holds the truth and the cache is copied from
 * it only when the test says the watch event arrived: the sandbox delivers its watch events too
 * quickly to hold the cache behind the controller's own patch on demand.
 */
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { KubeClient } from '../kube/client.js';
import {
  FAILOVER_CONTROLLED_BY_DEFAULT,
  FAILOVER_CONTROLLED_BY_LABEL,
  FAILOVER_PRIMARY_ANNOTATION,
  FAILOVER_RESTORE_AFTER_ANNOTATION,
} from '../kube/keys.js';
import type { TrafficSplit, V1EndpointSlice, V1Service } from '../kube/types.js';
import type { FailoverMemory } from './decide-weights.js';
import { failoverMetrics } from './metrics.js';
import { type ReconcileDeps, reconcileSplit } from './reconcile-split.js';
import { STEER_LABEL } from './split-selection.js';
import { service, slice, trafficSplit } from './test-builders.js';

const NS = 'shop';
const KEY = `${NS}/podinfo`;

function fixture(opts: { restoreAfter?: string } = {}) {
  const annotations: Record<string, string> = { [FAILOVER_PRIMARY_ANNOTATION]: 'podinfo' };
  if (opts.restoreAfter) annotations[FAILOVER_RESTORE_AFTER_ANNOTATION] = opts.restoreAfter;
  let rv = 1;
  let api = trafficSplit(
    NS,
    'podinfo',
    'podinfo-apex',
    [
      { service: 'podinfo', weight: 1 },
      { service: 'podinfo-west', weight: 0 },
    ],
    { annotations },
  );
  api.metadata = { ...api.metadata, uid: 'uid-1', resourceVersion: String(rv) };
  let cache = structuredClone(api);
  const stored = (body: TrafficSplit) => {
    api = { ...structuredClone(body), metadata: { ...body.metadata, resourceVersion: String(++rv) } };
    return structuredClone(api);
  };
  const client = {
    get: async () => structuredClone(api),
    replace: async (_res: unknown, body: TrafficSplit) => stored({ ...body, status: api.status }),
    replaceStatus: async (_res: unknown, body: TrafficSplit) => stored({ ...api, status: body.status }),
    list: async () => ({ items: [], metadata: {} }),
  } as unknown as KubeClient;
  const services: Record<string, V1Service> = {
    podinfo: service(NS, 'podinfo'),
    'podinfo-west': service(NS, 'podinfo-west'),
  };
  const ready = new Map([
    ['podinfo', true],
    ['podinfo-west', true],
  ]);
  const events: string[] = [];
  const deps: ReconcileDeps = {
    client,
    caches: {
      split: () => cache,
      splitsIn: () => [cache],
      service: (_ns, name) => services[name],
      slicesOf: (_ns, svc): V1EndpointSlice[] => [
        slice(NS, svc, ready.get(svc) ? { ready: ['10.1.0.7'] } : { notReady: ['10.1.0.7'] }),
      ],
      splitSlices: () => [],
    },
    recorder: { record: async (_o, _t, reason, message) => void events.push(`${reason}: ${message}`) },
    metrics: failoverMetrics(new Registry()),
    controlledBy: FAILOVER_CONTROLLED_BY_DEFAULT,
    now: () => 1_000_000,
    memories: new Map<string, FailoverMemory>(),
    requeueAfter: () => {},
  };
  return {
    deps,
    ready,
    services,
    reconcile: () => reconcileSplit(deps, KEY),
    /** The split's watch events reach the cache. */
    catchUp: () => {
      cache = structuredClone(api);
    },
    /** Someone else writes the split (kubectl), and the cache sees it. */
    edit: (change: (split: TrafficSplit) => TrafficSplit) => {
      stored(change(structuredClone(api)));
      cache = structuredClone(api);
    },
    weights: () => api.spec.backends.map((b) => b.weight),
    overwritten: () => events.filter((e) => e.startsWith('WeightsOverwritten')),
  };
}

const withWeights = (weights: number[]) => (split: TrafficSplit) => ({
  ...split,
  spec: { ...split.spec, backends: split.spec.backends.map((b, i) => ({ ...b, weight: weights[i] ?? 0 })) },
});

describe("a decision while the cache has not seen the controller's own weight patch", () => {
  it('a primary ready again within the lag waits out restore-after', async () => {
    const t = fixture({ restoreAfter: '30s' });
    t.ready.set('podinfo', false);
    await t.reconcile();
    expect(t.weights()).toEqual([0, 1]);
    // Ready again before the split's update event: the cache still says [1, 0].
    t.ready.set('podinfo', true);
    await t.reconcile();
    t.catchUp();
    await t.reconcile();
    // The clock has not moved: 30 s have not passed.
    expect(t.weights()).toEqual([0, 1]);
  });

  it('NothingReady decided then: the later restore reports no WeightsOverwritten', async () => {
    const t = fixture();
    t.ready.set('podinfo', false);
    await t.reconcile();
    // The backup's slice event comes before the split's own update event.
    t.ready.set('podinfo-west', false);
    await t.reconcile();
    t.catchUp();
    t.ready.set('podinfo', true);
    t.ready.set('podinfo-west', true);
    await t.reconcile();
    expect(t.weights()).toEqual([1, 0]);
    expect(t.overwritten()).toEqual([]);
  });

  it('an unchanged decision then: the later restore reports no WeightsOverwritten', async () => {
    const t = fixture();
    t.ready.set('podinfo', false);
    await t.reconcile();
    // Back at once: the cache's [1, 0] is what a healthy primary wants, so nothing is patched.
    t.ready.set('podinfo', true);
    await t.reconcile();
    t.catchUp();
    await t.reconcile();
    expect(t.weights()).toEqual([1, 0]);
    expect(t.overwritten()).toEqual([]);
  });
});

describe('what a hand edit still does', () => {
  it('a primary given its weight back by hand during the wait keeps it', async () => {
    const t = fixture({ restoreAfter: '30s' });
    t.ready.set('podinfo', false);
    await t.reconcile();
    t.catchUp();
    t.ready.set('podinfo', true);
    await t.reconcile();
    expect(t.weights()).toEqual([0, 1]);
    t.edit(withWeights([1, 0]));
    await t.reconcile();
    expect(t.weights()).toEqual([1, 0]);
    expect(t.overwritten()).toEqual([]);
  });

  it('the primary drained by hand is reverted, and said', async () => {
    const t = fixture();
    await t.reconcile();
    t.edit(withWeights([0, 1]));
    await t.reconcile();
    expect(t.weights()).toEqual([1, 0]);
    expect(t.overwritten()).toHaveLength(1);
  });

  it('a backup added at weight 0 while failed over is no hand edit', async () => {
    const t = fixture();
    t.ready.set('podinfo', false);
    await t.reconcile();
    t.catchUp();
    // As linkerd-failover's docs add a backup; it is ready, so it gets a share.
    t.services['podinfo-north'] = service(NS, 'podinfo-north');
    t.ready.set('podinfo-north', true);
    t.edit((split) => ({
      ...split,
      spec: { ...split.spec, backends: [...split.spec.backends, { service: 'podinfo-north', weight: 0 }] },
    }));
    await t.reconcile();
    expect(t.weights()).toEqual([0, 1, 1]);
    expect(t.overwritten()).toEqual([]);
  });
});

describe('a split handed to steer-only and back', () => {
  it('resumes from the weights it comes back with, not from what it was decided before', async () => {
    const t = fixture({ restoreAfter: '30s' });
    await t.reconcile();
    // Steer-only: the user sends the traffic to the backup.
    t.edit((split) => ({
      ...withWeights([0, 1])(split),
      metadata: { ...split.metadata, labels: { [STEER_LABEL]: 'true' } },
    }));
    await t.reconcile();
    // Handed back to failover with the weights on the backup: Fallback, so restore-after holds.
    t.edit((split) => ({
      ...split,
      metadata: {
        ...split.metadata,
        labels: { [FAILOVER_CONTROLLED_BY_LABEL]: FAILOVER_CONTROLLED_BY_DEFAULT },
      },
    }));
    await t.reconcile();
    expect(t.weights()).toEqual([0, 1]);
    expect(t.overwritten()).toEqual([]);
  });
});

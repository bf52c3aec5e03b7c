/** `isthmus check`'s TrafficSplit check, on the status the failover controller writes (src/failover/split-status.ts). */
import { describe, expect, it } from 'vitest';
import { splitPem } from '../../../identity/index.js';
import { testGatewayCertificate, testPki } from '../../../identity/testing.js';
import type { TrafficSplit } from '../../../kube/types.js';
import { healthyFacts } from '../test-builders.js';
import { checkTrafficSplits } from './traffic-splits.js';

const facts = healthyFacts({
  anchorPem: testPki().anchor.certPem,
  issuerPem: testPki().issuers.east.certPem,
  westChain: splitPem(testGatewayCertificate('west').chainPem),
});

/** Split test/podinfo as the controller leaves it: every condition True unless `overrides` says otherwise. */
function handled(
  overrides: Record<string, { status: 'True' | 'False'; reason: string; message: string }>,
): TrafficSplit {
  const types = ['Accepted', 'ResolvedRefs', 'Available', 'Steered', ...Object.keys(overrides)];
  const conditions = [...new Set(types)].map((type) => ({
    type,
    status: 'True',
    reason: type,
    message: '',
    lastTransitionTime: new Date('2026-11-23T00:00:00Z'),
    ...overrides[type],
  }));
  return {
    metadata: { namespace: 'test', name: 'podinfo', generation: 1 },
    spec: { service: 'podinfo', backends: [{ service: 'podinfo', weight: 1 }] },
    status: { observedGeneration: 1, state: 'Primary', conditions },
  };
}

const check = (split: TrafficSplit) =>
  checkTrafficSplits({ ...facts, trafficSplits: { ok: true, value: [split] } });

describe('checkTrafficSplits: restore-after', () => {
  it('a restore-after the controller ignored (no duration) warns, naming it: failover works, without the wait', () => {
    const message =
      'failover.isthmus.dev/restore-after: "soon" is not a duration (such as 30s or 1m30s): ignored, so traffic returns to primary podinfo as soon as it is ready; failover itself is unaffected';
    const result = check(
      handled({ RestoreAfter: { status: 'False', reason: 'InvalidRestoreAfter', message } }),
    );
    expect(result.status).toBe('warn');
    expect(result.hints).toEqual([`TrafficSplit test/podinfo: InvalidRestoreAfter: ${message}`]);
  });

  it('a restore-after in force is no problem, caveat or not', () => {
    const message =
      'traffic returns to primary podinfo once it has been ready for 5s; for callers in a mesh only: …';
    const result = check(handled({ RestoreAfter: { status: 'True', reason: 'RestoreAfter', message } }));
    expect(result).toMatchObject({ status: 'ok', hints: [] });
  });
});

describe('checkTrafficSplits: splits that steer nothing say what serves instead', () => {
  it('a namespaced backend warns that backends are Service names of the namespace, not about links', () => {
    const message = 'other/cart-west is no Service name; …';
    const result = check(handled({ ResolvedRefs: { status: 'False', reason: 'InvalidBackend', message } }));
    expect(result.hints).toEqual([`TrafficSplit test/podinfo: InvalidBackend: ${message}`]);
  });

  it('an Invalid split fails, and says where the weights and the apex still send traffic', () => {
    const split = handled({ Accepted: { status: 'False', reason: 'UnknownPrimary', message: 'm' } });
    const result = check({
      ...split,
      status: { ...split.status, state: 'Invalid', activeBackends: ['podinfo'] },
    });
    expect(result).toMatchObject({ status: 'fail' });
    expect(result.hints).toEqual([
      'TrafficSplit test/podinfo: not acted on (UnknownPrimary): m; the weights and any apex EndpointSlices it wrote stay as they are, and its traffic goes to podinfo',
    ]);
  });

  it('an Invalid split whose traffic reaches nothing says so', () => {
    const split = handled({ Accepted: { status: 'False', reason: 'UnknownPrimary', message: 'm' } });
    const result = check({ ...split, status: { ...split.status, state: 'Invalid', activeBackends: [] } });
    expect(result.hints).toEqual([
      'TrafficSplit test/podinfo: not acted on (UnknownPrimary): m; the weights and any apex EndpointSlices it wrote stay as they are, and its traffic reaches no backend',
    ]);
  });

  it('an apex that does not exist: no caller is steered, in a mesh or not', () => {
    const result = check(
      handled({ Steered: { status: 'False', reason: 'ApexNotFound', message: 'no Service named ghost' } }),
    );
    expect(result.hints).toEqual([
      'TrafficSplit test/podinfo: steers no caller (ApexNotFound): no Service named ghost',
    ]);
  });
});

describe("checkTrafficSplits: next to a TrafficSplit CRD without a status subresource (linkerd-smi's)", () => {
  const STATUSLESS =
    "the TrafficSplit CRD trafficsplits.split.smi-spec.io has no status subresource (Linkerd's SMI extension's, kept with `install --no-traffic-split-crd`): the failover controller acts on the splits but writes no status, so this check cannot see their state; see the TrafficSplit events (Failover, NothingReady, WeightsOverwritten), isthmus_failover_active and `isthmus status`";
  const unhandled = (name: string): TrafficSplit => ({
    metadata: { namespace: 'test', name, generation: 3 },
    spec: { service: 'podinfo', backends: [{ service: 'podinfo', weight: 1 }] },
  });
  const withSubresource = (has: boolean | undefined, splits: TrafficSplit[]) =>
    checkTrafficSplits({
      ...facts,
      trafficSplits: { ok: true, value: splits },
      trafficSplitStatusSubresource: { ok: true, value: has },
    });

  it('says once that no status can be seen, not per split that no controller acts on it', () => {
    const result = withSubresource(false, [unhandled('podinfo'), unhandled('cart')]);
    expect(result.status).toBe('warn');
    expect(result.hints).toEqual([STATUSLESS]);
  });

  it('takes no status (one left from before the CRD was replaced) for a change not acted on', () => {
    const left = handled({});
    left.metadata!.generation = 2;
    const result = withSubresource(false, [left]);
    expect(result.hints).toEqual([STATUSLESS]);
  });

  it('no split: nothing to see, nothing to say', () => {
    expect(withSubresource(false, [])).toMatchObject({ status: 'ok', hints: [] });
  });

  it.each<[string, boolean | undefined]>([
    ['a CRD with a status subresource', true],
    ['no CRD (the list would fail)', undefined],
  ])('%s: a split without status is one no controller acted on', (_name, has) => {
    expect(withSubresource(has, [unhandled('podinfo')]).hints).toEqual([
      'TrafficSplit test/podinfo: no status yet: no failover controller has acted on it (is one leading? see the controller check)',
    ]);
  });

  it('the CRD unreadable: as before, per split', () => {
    const result = checkTrafficSplits({
      ...facts,
      trafficSplits: { ok: true, value: [unhandled('podinfo')] },
      trafficSplitStatusSubresource: { ok: false, error: '403 Forbidden' },
    });
    expect(result.hints).toEqual([expect.stringMatching(/^TrafficSplit test\/podinfo: no status yet/)]);
  });
});

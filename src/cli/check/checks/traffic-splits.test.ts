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

import { describe, expect, it } from 'vitest';
import { issueGatewayCertificate, splitPem } from '../../identity/index.js';
import { foreignTestPki, testGatewayCertificate, testPki } from '../../identity/testing.js';
import { VERSION } from '../../version.js';
import { runChecks } from './checks/index.js';
import { checkReport, checksPassed, renderCheckText } from './render.js';
import { HEALTHY_CONDITIONS, healthyFacts, link, linkFacts, mirror } from './test-builders.js';
import type { CheckFacts } from './types.js';

const pki = {
  anchorPem: testPki().anchor.certPem,
  issuerPem: testPki().issuers.east.certPem,
  westChain: splitPem(testGatewayCertificate('west').chainPem),
};

/** West healthy; north with a revoked token, a gateway from another PKI that is down; a stray mirror. */
function brokenFacts(): CheckFacts {
  const f = healthyFacts(pki);
  const west = link('west');
  west.status!.services = [
    { namespace: 'shop', name: 'cart', reason: 'MissingNamespace', message: 'namespace shop does not exist' },
  ];
  const north = link('north', {
    conditions: [
      HEALTHY_CONDITIONS[0]!,
      { type: 'GatewayAlive', status: 'False', reason: 'ProbeFailed', message: 'probe answered 503' },
    ],
  });
  const foreign = issueGatewayCertificate(foreignTestPki().issuers.west, {
    trustDomain: 'cluster.local',
    cluster: 'north',
  });
  f.links = {
    ok: true,
    value: [
      linkFacts(west, pki.westChain),
      linkFacts(north, splitPem(foreign.chainPem), {
        remote: { ok: false, kind: 'unauthorized', message: 'GET /version: 401 Unauthorized' },
        // A revoked token still names its account (its claims are read, not verified).
        tokenAccount: 'isthmus-remote-access',
      }),
    ],
  };
  f.mirrors = {
    ok: true,
    value: [mirror('podinfo-west'), mirror('db-north', 'north', 0, 1), mirror('old-south', 'south')],
  };
  if (f.deployments.ok) f.deployments.value[1] = { name: 'isthmus-gateway', replicas: 2, available: 1 };
  // The gateway mid-upgrade: its new pod runs a later version than this CLI.
  f.podVersions = { ok: true, value: [{ component: 'gateway', pods: { [VERSION]: 1, '9.9.9': 1 } }] };
  f.deniedPermissions = {
    ok: true,
    value: [{ serviceAccount: 'isthmus-gateway', verb: 'watch', group: '', resource: 'services' }],
  };
  // north's gateway is down, so its member of the federation serves nothing.
  f.federated = {
    ok: true,
    value: [
      {
        namespace: 'shop',
        service: 'cart-federated',
        members: ['east', 'north'],
        affinity: 'none',
        serving: { east: 2 },
      },
    ],
  };
  return f;
}

describe('isthmus check output', () => {
  it('all √ on a healthy setup', async () => {
    const results = runChecks(healthyFacts(pki));
    expect(checksPassed(results)).toBe(true);
    await expect(renderCheckText(results)).toMatchFileSnapshot('testdata/check-healthy.golden.txt');
  });

  it('× with a hint under each failing check, ‼ for warnings', async () => {
    const results = runChecks(brokenFacts());
    expect(checksPassed(results)).toBe(false);
    await expect(renderCheckText(results)).toMatchFileSnapshot('testdata/check-broken.golden.txt');
  });

  it('-o json carries the same verdicts', () => {
    const report = checkReport(runChecks(brokenFacts()));
    expect(report.success).toBe(false);
    expect(report.checks.map((c) => c.result)).toEqual([
      'success',
      'warning', // one of two gateway replicas available
      'success',
      'error',
      'error',
      'success', // no linked gateway is revoked
      'error', // permissions
      'success', // namespace editors cannot point the gateway elsewhere
      'success',
      'error',
      'error',
      'success', // every gateway pod listens on the mirrors' egress ports
      'error',
      'warning',
      'warning', // a federation member (north) serves nothing
      'success', // no failover TrafficSplit
      'success',
      'warning', // a gateway pod runs another version
    ]);
  });

  it('warnings alone do not fail the run', () => {
    const f = healthyFacts(pki);
    if (f.links.ok)
      f.links.value[0]!.link.status!.services = [{ namespace: 'a', name: 'b', reason: 'Conflict' }];
    const results = runChecks(f);
    expect(results.some((r) => r.status === 'warn')).toBe(true);
    expect(checksPassed(results)).toBe(true);
    expect(renderCheckText(results)).toContain(
      '‼ every exported service is mirrored\n    Link west: a/b is not mirrored (Conflict)',
    );
  });
});

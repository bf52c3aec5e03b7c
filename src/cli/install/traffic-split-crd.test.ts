import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { addInstallFlags, givenInstallFlags, installFlagsOf } from './install-flags.js';
import { TRAFFIC_SPLIT_CRD } from './options.js';
import { installManifests } from './render.js';
import { testInstallOptions } from './test-options.js';

type Doc = { kind: string; metadata: { name: string; labels?: Record<string, string> } };

const crds = (extra: Record<string, unknown>) =>
  (installManifests(testInstallOptions(extra)) as Doc[])
    .filter((o) => o.kind === 'CustomResourceDefinition')
    .map((o) => o.metadata.name);

describe('isthmus install --no-traffic-split-crd', () => {
  it('renders the TrafficSplit CRD by default', () => {
    expect(crds({})).toEqual(['links.multicluster.isthmus.dev', TRAFFIC_SPLIT_CRD]);
  });

  it("leaves it out, for another chart's (Linkerd's SMI extension, linkerd-failover), and keeps the Link CRD", () => {
    expect(crds({ trafficSplitCrd: false })).toEqual(['links.multicluster.isthmus.dev']);
  });

  it('is recorded for isthmus upgrade, as --no-gateway is', () => {
    const cmd = addInstallFlags(new Command('install').exitOverride(), { clusterNameRequired: true }).parse(
      ['--cluster-name', 'east', '--no-traffic-split-crd'],
      { from: 'user' },
    );
    const given = givenInstallFlags(cmd);
    expect(given).toEqual({ 'cluster-name': 'east', 'no-traffic-split-crd': true });
    expect(installFlagsOf(cmd, given).trafficSplitCrd).toBe(false);
    const record = (
      installManifests({
        ...testInstallOptions({ trafficSplitCrd: false }),
        recordedFlags: given,
      }) as (Doc & {
        data?: Record<string, string>;
      })[]
    ).at(-1)!;
    expect(record.data?.flags).toContain('no-traffic-split-crd: true');
    expect(record.data?.objects).not.toContain(TRAFFIC_SPLIT_CRD);
  });
});

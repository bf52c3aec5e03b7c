/**
 * The selector the README gives for pruning an install (GitOps): every object the install labels
 * part-of=isthmus, and none of what `isthmus link` and `isthmus allow` print, which carry that label
 * too and hold every Link's credentials and the peers' accounts.
 */
import { describe, expect, it } from 'vitest';
import { matchesLabels, parseLabelSelector } from '../../kube/validation/selectors.js';
import { allowManifests } from '../link/allow.js';
import { linkManifests } from '../link/render.js';
import { LINK_LABEL, PART_OF } from './options.js';
import { installManifests } from './render.js';
import { testInstallOptions } from './test-options.js';

type Labelled = { kind: string; metadata: { name: string; labels?: Record<string, string> } };

const INSTALL_PRUNE_SELECTOR =
  'app.kubernetes.io/part-of=isthmus,!isthmus.dev/link,!isthmus.dev/remote-access';
const selected = (objects: object[], selector: string) =>
  (objects as Labelled[])
    .filter((o) => matchesLabels(parseLabelSelector(selector), o.metadata.labels))
    .map((o) => `${o.kind}/${o.metadata.name}`);

const link = linkManifests({
  clusterName: 'west',
  trustDomain: 'cluster.local',
  clusterDomain: 'cluster.local',
  apiServer: 'https://203.0.113.10:6443',
  token: 'remote-read-only-token',
  gateway: { addresses: ['198.51.100.7'], port: 4143 },
});
const install = installManifests({ ...testInstallOptions(), gatewayReplicas: 2, recordedFlags: {} });

describe('pruning an install by label', () => {
  it('part-of=isthmus alone would also select every Link credential and peer account', () => {
    const partOf = `app.kubernetes.io/part-of=${PART_OF['app.kubernetes.io/part-of']}`;
    expect(selected(link, partOf)).toEqual([
      'Secret/cluster-credentials-west',
      'Role/isthmus-controller-credentials-west',
      'RoleBinding/isthmus-controller-credentials-west',
    ]);
    expect(selected(allowManifests('east-reader'), partOf).length).toBeGreaterThan(0);
  });

  it("the README's selector takes every labelled install object and nothing link or allow print", () => {
    const labelled = (install as Labelled[]).filter((o) => o.metadata.labels?.['app.kubernetes.io/part-of']);
    expect(selected(install, INSTALL_PRUNE_SELECTOR)).toEqual(
      labelled.map((o) => `${o.kind}/${o.metadata.name}`),
    );
    expect(selected(link, INSTALL_PRUNE_SELECTOR)).toEqual([]);
    expect(selected(allowManifests('east-reader'), INSTALL_PRUNE_SELECTOR)).toEqual([]);
  });

  it("labels link's output with the linked cluster", () => {
    for (const o of link.filter((o) => (o as Labelled).kind !== 'Link') as Labelled[])
      expect(o.metadata.labels?.[LINK_LABEL], o.kind).toBe('west');
  });
});

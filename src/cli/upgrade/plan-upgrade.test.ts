import { describe, expect, it } from 'vitest';
import { createTrustAnchor } from '../../identity/ca.js';
import { foreignTestPki, testPki } from '../../identity/testing.js';
import {
  anchorReplacement,
  deleteCommands,
  gatewayRestartNote,
  newerVersion,
  upgradeFlags,
  upgradeNotes,
} from './plan-upgrade.js';

const KNOWN = new Map([
  ['cluster-name', 'value'],
  ['ha', 'switch'],
  ['trust-anchor', 'value'],
]);
const record = { version: '0.1.0', flags: { 'cluster-name': 'east', ha: true as const }, objects: [] };

describe('upgradeFlags', () => {
  it.each([
    [{}, ['bogus'], /--unset bogus: no such install flag/],
    [{}, ['trust-anchor'], /--unset trust-anchor: no such install flag/],
    [{}, ['context'], /--unset context: no such install flag/],
    [{}, ['cluster-name'], /--unset cluster-name: a cluster's name is what every Link to it calls it/],
    [{ ha: true as const }, ['ha'], /--ha is both given and unset/],
    [{ 'cluster-name': 'west' }, [], /this install is cluster east; --cluster-name west would rename it/],
  ])('refuses %j with --unset %j', (given, unset, message) => {
    expect(() => upgradeFlags(record, given, unset, KNOWN)).toThrow(message);
  });

  it('drops a recorded flag this CLI does not know, or one it never records', () => {
    const newer = { ...record, flags: { ...record.flags, wasm: 'x', 'trust-anchor': '/x' } };
    expect(upgradeFlags(newer, {}, ['wasm', 'trust-anchor'], KNOWN)).toEqual({
      'cluster-name': 'east',
      ha: true,
    });
  });
});

describe('upgradeNotes', () => {
  it('says which CLI rendered the install, what changed and what to delete once applied, in the right cluster', () => {
    const notes = upgradeNotes(
      record,
      { 'cluster-name': 'east' },
      ['networking.k8s.io/v1 NetworkPolicy isthmus-system/isthmus-gateway'],
      { cliVersion: '0.2.0', kubectlFlags: ['--context', 'east'] },
    );
    expect(notes).toEqual([
      'the install was rendered by isthmus 0.1.0; this is 0.2.0',
      'flags changed: --ha: on → unset',
      'kubectl apply deletes nothing; once this is applied, delete what the install no longer has (upgrade names it until it is gone):\n  kubectl --context east delete -n isthmus-system networkpolicy.networking.k8s.io/isthmus-gateway',
    ]);
    expect(upgradeNotes(record, record.flags, [], { cliVersion: '0.1.0' })).toEqual(['flags unchanged']);
  });

  it('says plainly that a recorded image pinned to another version stays, and what to give instead', () => {
    const notes = upgradeNotes(
      { ...record, flags: { ...record.flags, image: 'registry.example.com:5000/isthmus:0.1.0' } },
      { ...record.flags, image: 'registry.example.com:5000/isthmus:0.1.0' },
      [],
      { cliVersion: '0.2.0' },
    );
    expect(notes).toContain(
      "the recorded --image registry.example.com:5000/isthmus:0.1.0 keeps the pods on 0.1.0 under 0.2.0's manifests: give --image registry.example.com:5000/isthmus:0.2.0 to move them, or --unset image for the default image",
    );
    const current = { ...record.flags, image: 'registry.example.com/isthmus:v0.2.0' };
    expect(
      upgradeNotes({ ...record, flags: current }, current, [], { cliVersion: '0.2.0' }).join(),
    ).not.toMatch(/keeps the pods/);
  });

  it('says so when the CLI is older than the install', () => {
    expect(upgradeNotes({ ...record, version: '0.10.0' }, record.flags, [], { cliVersion: '0.9.1' })[0]).toBe(
      "this downgrades the install from isthmus 0.10.0 to 0.9.1: its pods get 0.9.1's image and manifests",
    );
    expect(newerVersion('0.2.0', '0.2.0-dev')).toBe(false);
    expect(newerVersion('1.0.0', '0.9.9')).toBe(true);
    expect(newerVersion('latest', '0.1.0')).toBe(false);
  });

  it('deletes core and cluster-scoped kinds with their own command', () => {
    expect(
      deleteCommands([
        'v1 ConfigMap isthmus-system/a',
        'rbac.authorization.k8s.io/v1 ClusterRole b',
        'apps/v1 Deployment isthmus-system/c',
      ]),
    ).toEqual([
      'kubectl delete -n isthmus-system configmap/a deployment.apps/c',
      'kubectl delete clusterrole.rbac.authorization.k8s.io/b',
    ]);
  });
});

describe('anchorReplacement', () => {
  // Same subject, another key: `isthmus certs new-anchor` keeps the name of the anchor it replaces.
  const old = () => testPki().anchor.certPem;
  const next = () => foreignTestPki().anchor.certPem;
  const bundle = () => next() + old();
  type Row = [string, () => string | undefined, () => string | undefined, boolean, RegExp | undefined];
  const REFUSED =
    /^--trust-anchor c2\/ca\.crt \(serial [0-9A-F]+\) keeps none of the trust anchors installed in this cluster \(serial [0-9A-F]+\): every cluster still on the installed anchor would refuse this cluster's gateway, and this one theirs\. Rotate the anchor in the steps of the README's "Rotating the trust anchor": first upgrade every cluster with a bundle of both anchors .* add --replace-trust-anchor$/;

  it.each<Row>([
    ['the same anchor again', old, old, false, undefined],
    ['step 1: a bundle of the installed anchor and the new one', old, bundle, false, undefined],
    ['step 2: the bundle again', bundle, bundle, false, undefined],
    ['step 3: the new anchor alone, once the bundle is installed', bundle, next, false, undefined],
    ['no --trust-anchor: the installed one stays', old, () => undefined, false, undefined],
    ['nothing installed (or unreadable): nothing to compare with', () => undefined, next, false, undefined],
    ['an installed anchor that is no PEM: the anchor checks say so', () => 'garbage', next, false, undefined],
  ])('allows %s', (_, installed, given, replace) => {
    expect(
      anchorReplacement({ installedPem: installed(), givenPem: given(), givenFile: 'c2/ca.crt', replace }),
    ).toBeUndefined();
  });

  it.each<Row>([
    ['a new anchor alone over the old one: the steps skipped', old, next, false, REFUSED],
    ['the old anchor alone back over the new one', next, old, false, REFUSED],
    [
      '--replace-trust-anchor without --trust-anchor',
      old,
      () => undefined,
      true,
      /^--replace-trust-anchor goes with --trust-anchor/,
    ],
  ])('refuses %s', (_, installed, given, replace, message) => {
    expect(() =>
      anchorReplacement({ installedPem: installed(), givenPem: given(), givenFile: 'c2/ca.crt', replace }),
    ).toThrow(message);
  });

  it('names every anchor of a bundle it refuses to drop', () => {
    const third = createTrustAnchor({ trustDomain: 'cluster.local', keyBits: 2048 }).certPem;
    expect(() => anchorReplacement({ installedPem: bundle(), givenPem: third, replace: false })).toThrow(
      /^--trust-anchor \(serial [0-9A-F]+\) keeps none of the trust anchors installed in this cluster \(serials [0-9A-F]+, [0-9A-F]+\)/,
    );
  });

  it('takes a swap with --replace-trust-anchor, and says what it does to the other clusters', () => {
    expect(anchorReplacement({ installedPem: old(), givenPem: next(), replace: true })).toMatch(
      /^--replace-trust-anchor: the trust anchor is replaced outright \(serial [0-9A-F]+ → serial [0-9A-F]+\): every cluster still on the old anchor refuses this cluster's gateway, and this one theirs, until it is upgraded to the new anchor too; gateways read the trust anchor only at start: once this is applied, run kubectl -n isthmus-system rollout restart deployment\/isthmus-gateway$/,
    );
    // With the context upgrade was given, so the restart goes to the same cluster.
    expect(
      anchorReplacement({
        installedPem: old(),
        givenPem: next(),
        replace: true,
        kubectlFlags: ['--context', 'east'],
      }),
    ).toMatch(/run kubectl --context east -n isthmus-system rollout restart deployment\/isthmus-gateway$/);
    // Where an anchor is kept, the flag changes nothing and says nothing.
    expect(anchorReplacement({ installedPem: old(), givenPem: bundle(), replace: true })).toBeUndefined();
  });
});

describe('gatewayRestartNote', () => {
  it('says the gateways read the anchor only at start, with the command for the cluster upgraded', () => {
    expect(gatewayRestartNote(['--kubeconfig', 'k', '--context', 'east'])).toBe(
      'gateways read the trust anchor only at start: once this is applied, run kubectl --kubeconfig k --context east -n isthmus-system rollout restart deployment/isthmus-gateway',
    );
  });
});

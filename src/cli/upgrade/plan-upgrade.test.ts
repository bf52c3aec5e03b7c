import { describe, expect, it } from 'vitest';
import { deleteCommands, newerVersion, upgradeFlags, upgradeNotes } from './plan-upgrade.js';

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

import { describe, expect, it } from 'vitest';
import {
  type FlagKind,
  flagChanges,
  installRecordManifest,
  mergeFlags,
  parseInstallRecord,
  staleObjects,
} from './install-record.js';

const KINDS: Record<string, FlagKind> = { 'cluster-name': 'value', ha: 'switch', toleration: 'repeatable' };
const kindOf = (flag: string) => KINDS[flag];
const record = (flags: string, objects = '') => ({ data: { version: '0.1.0', flags, objects } });

describe('the install record', () => {
  it('reads back what it wrote', () => {
    const cm = installRecordManifest('isthmus-system', {
      version: '0.1.0',
      flags: { 'cluster-name': 'east', ha: true, toleration: ['a:NoSchedule'] },
      objects: ['v1 ConfigMap isthmus-system/isthmus-config', 'rbac.authorization.k8s.io/v1 ClusterRole x'],
    });
    expect(parseInstallRecord(cm, kindOf)).toEqual({
      version: '0.1.0',
      flags: { 'cluster-name': 'east', ha: true, toleration: ['a:NoSchedule'] },
      objects: ['v1 ConfigMap isthmus-system/isthmus-config', 'rbac.authorization.k8s.io/v1 ClusterRole x'],
    });
  });

  it.each([
    ['ha: [', /flags is not YAML/],
    ['- ha', /flags is not a mapping/],
    ['ha: false', /--ha should be true \(a switch/],
    ['cluster-name: 7', /--cluster-name should be a string/],
    ['toleration: a:NoSchedule', /--toleration should be a list of strings/],
    ['trust-anchor: /home/me/ca.crt', /recorded with --trust-anchor, which this isthmus/],
    [
      'wasm: x',
      /recorded with --wasm, which this isthmus \(the CLI\) does not know \(the install was made by 0.1.0\).*--unset wasm/,
    ],
  ])('refuses %j with a message naming the flag', (flags, message) => {
    expect(() => parseInstallRecord(record(flags), kindOf)).toThrow(message);
  });

  it('keeps a flag about to be dropped whatever it holds', () => {
    expect(parseInstallRecord(record('wasm: x\nha: true'), kindOf, ['wasm']).flags).toEqual({
      wasm: 'x',
      ha: true,
    });
  });

  it('merges: a flag given replaces the recorded one, a list whole; unset drops', () => {
    const merged = mergeFlags(
      { 'cluster-name': 'east', ha: true, toleration: ['a:NoSchedule'] },
      { toleration: ['b:NoExecute'] },
      ['ha'],
    );
    expect(merged).toEqual({ 'cluster-name': 'east', toleration: ['b:NoExecute'] });
    expect(flagChanges({ ha: true, toleration: ['a:NoSchedule'] }, merged)).toEqual([
      '--cluster-name: unset → east',
      '--ha: on → unset',
      '--toleration: [a:NoSchedule] → [b:NoExecute]',
    ]);
  });

  it('names what the new install no longer renders, by kind and name, never a CRD or the namespace', () => {
    const before = [
      'policy/v1beta1 PodDisruptionBudget isthmus-system/isthmus-gateway',
      'networking.k8s.io/v1 NetworkPolicy isthmus-system/isthmus-gateway',
      'apiextensions.k8s.io/v1 CustomResourceDefinition links.multicluster.isthmus.dev',
      'v1 Namespace isthmus-system',
    ];
    expect(staleObjects(before, ['policy/v1 PodDisruptionBudget isthmus-system/isthmus-gateway'])).toEqual([
      'networking.k8s.io/v1 NetworkPolicy isthmus-system/isthmus-gateway',
    ]);
  });
});

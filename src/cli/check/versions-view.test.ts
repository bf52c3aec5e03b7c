import { describe, expect, it } from 'vitest';
import type { V1Pod } from '../../kube/types.js';
import { componentVersions, renderVersion, versionReport } from './versions-view.js';

function pod(component: string, version?: string, extra: Partial<V1Pod> = {}): V1Pod {
  return {
    metadata: {
      name: `isthmus-${component}-${Math.random().toString(36).slice(2, 7)}`,
      labels: {
        'app.kubernetes.io/part-of': 'isthmus',
        'app.kubernetes.io/component': component,
        ...(version ? { 'app.kubernetes.io/version': version } : {}),
      },
      ...extra.metadata,
    },
    status: { phase: 'Running', ...extra.status },
  };
}

describe('componentVersions', () => {
  it('counts the live pods of each component by version; a pod without the label is unknown', () => {
    const pods = [
      pod('gateway', '0.1.0'),
      pod('gateway', '0.2.0'),
      pod('controller', '0.1.0'),
      pod('controller', '0.1.0'),
      pod('identity'),
      // Gone or going: no longer what the install runs.
      pod('gateway', '0.0.9', { metadata: { deletionTimestamp: new Date() } }),
      pod('gateway', '0.0.8', { status: { phase: 'Failed' } }),
      pod('identity', '0.0.7', { status: { phase: 'Succeeded' } }),
    ];
    expect(componentVersions(pods)).toEqual([
      { component: 'controller', pods: { '0.1.0': 2 } },
      { component: 'gateway', pods: { '0.1.0': 1, '0.2.0': 1 } },
      { component: 'identity', pods: { unknown: 1 } },
    ]);
  });
});

describe('isthmus version', () => {
  it('one version everywhere: that is the server version', () => {
    const report = versionReport('0.1.0', [
      { component: 'controller', pods: { '0.1.0': 2 } },
      { component: 'gateway', pods: { '0.1.0': 1 } },
    ]);
    expect(report.serverVersion).toBe('0.1.0');
    expect(renderVersion(report)).toBe('Client version: 0.1.0\nServer version: 0.1.0\n');
  });

  it('mid-upgrade: mixed, with what each component runs', () => {
    const report = versionReport('0.2.0', [
      { component: 'controller', pods: { '0.1.0': 2 } },
      { component: 'gateway', pods: { '0.2.0': 1, '0.1.0': 1 } },
    ]);
    expect(renderVersion(report)).toBe(
      [
        'Client version: 0.2.0',
        'Server version: mixed',
        '  controller  0.1.0 (2 pods)',
        '  gateway     0.1.0 (1 pod), 0.2.0 (1 pod)',
        '',
      ].join('\n'),
    );
  });

  it('nothing installed, or no cluster to ask: unavailable, with why', () => {
    expect(renderVersion(versionReport('0.1.0', []))).toBe(
      'Client version: 0.1.0\nServer version: unavailable (no Isthmus pods in isthmus-system)\n',
    );
    const down = versionReport('0.1.0', [], 'connect ECONNREFUSED 127.0.0.1:6443');
    expect(down).toMatchObject({
      serverVersion: 'unavailable',
      error: 'connect ECONNREFUSED 127.0.0.1:6443',
    });
    expect(renderVersion(down)).toBe(
      'Client version: 0.1.0\nServer version: unavailable (connect ECONNREFUSED 127.0.0.1:6443)\n',
    );
  });
});

import { describe, expect, it } from 'vitest';
import type { V1Namespace } from '../kube/types.js';
import { mismatchMessage, remoteIdentity } from './remote-identity.js';

const ns = (labels?: Record<string, string>): V1Namespace => ({
  metadata: { name: 'isthmus-system', ...(labels ? { labels } : {}) },
});

describe('remoteIdentity: the name the remote was installed with against the Link', () => {
  it.each<[string, Parameters<typeof remoteIdentity>[0], ReturnType<typeof remoteIdentity>]>([
    ['the same name', ns({ 'isthmus.dev/cluster-name': 'west' }), { verdict: 'confirmed' }],
    ['another name', ns({ 'isthmus.dev/cluster-name': 'east' }), { verdict: 'mismatch', installed: 'east' }],
    // As `isthmus link`: what cannot say is trusted (an older install, a remote-discovery-only cluster).
    ['no label', ns({ other: 'x' }), { verdict: 'unknown', why: 'unlabelled' }],
    ['no namespace', undefined, { verdict: 'unknown', why: 'no-namespace' }],
    ['a namespace it may not read', 'forbidden', { verdict: 'unknown', why: 'forbidden' }],
  ])('%s', (_what, namespace, verdict) => {
    expect(remoteIdentity(namespace, 'west')).toEqual(verdict);
  });

  it('a mismatch names both names, the API server and what to fix', () => {
    expect(
      mismatchMessage({
        cluster: 'west',
        installed: 'east',
        server: 'https://10.0.0.1:6443/',
        secret: 'isthmus-system/cluster-credentials-west',
      }),
    ).toBe(
      'the credentials in Secret isthmus-system/cluster-credentials-west reach the API server https://10.0.0.1:6443/, ' +
        'which was installed as cluster "east" (label isthmus.dev/cluster-name on namespace isthmus-system), ' +
        'not "west" (spec.targetClusterName): until they agree, no mirror is created, changed or deleted; ' +
        'fix the Secret or spec.targetClusterName',
    );
  });
});

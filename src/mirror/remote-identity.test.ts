import { describe, expect, it } from 'vitest';
import type { V1Namespace } from '../kube/types.js';
import {
  mismatchMessage,
  type NamedIdentity,
  type RemoteIdentity,
  recheck,
  remoteIdentity,
  unconfirmedMessage,
} from './remote-identity.js';

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

describe('recheck: an answer on a connection whose remote said a name before', () => {
  const north: NamedIdentity = { verdict: 'mismatch', installed: 'north' };
  const confirmed: NamedIdentity = { verdict: 'confirmed' };
  const unlabelled: RemoteIdentity = { verdict: 'unknown', why: 'unlabelled' };
  it.each<[string, RemoteIdentity, NamedIdentity | undefined, RemoteIdentity]>([
    ['cannot say, and never said a name: trusted', unlabelled, undefined, unlabelled],
    [
      "cannot say after the Link's name: refused",
      unlabelled,
      confirmed,
      { verdict: 'unconfirmed', why: 'unlabelled', before: confirmed },
    ],
    [
      'cannot say after another name: refused',
      { verdict: 'unknown', why: 'forbidden' },
      north,
      { verdict: 'unconfirmed', why: 'forbidden', before: north },
    ],
    ["names the Link's cluster again", confirmed, north, confirmed],
    ['names another cluster', north, confirmed, north],
  ])('%s', (_what, answer, before, taken) => {
    expect(recheck(answer, before)).toEqual(taken);
  });

  it('a refusal names what the remote said before, why it cannot say now, and what to fix', () => {
    const names = { cluster: 'west', server: 'https://10.0.0.1:6443/', secret: 'isthmus-system/creds-west' };
    expect(unconfirmedMessage({ ...names, why: 'no-namespace', before: { verdict: 'confirmed' } })).toBe(
      'the credentials in Secret isthmus-system/creds-west reach the API server https://10.0.0.1:6443/, ' +
        'which no longer says it is cluster "west": it answered as cluster "west" before, and now it has ' +
        'no namespace isthmus-system, as another cluster reached at the same address would answer: until it ' +
        'says "west" again, no mirror is created, changed or deleted; restore the label, the namespace or ' +
        "the remote-access role's permission to read it, or the API address if it now reaches another cluster",
    );
    expect(unconfirmedMessage({ ...names, why: 'unlabelled', before: north })).toMatch(
      /it answered as cluster "north" before, and now its namespace isthmus-system has no label isthmus\.dev\/cluster-name,/,
    );
  });
});

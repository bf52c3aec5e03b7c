import { describe, expect, it } from 'vitest';
import { allowManifests, peerAccountOf } from './allow.js';

type Obj = {
  kind: string;
  metadata: { name: string; namespace?: string };
  roleRef?: unknown;
  subjects?: unknown;
};

describe('isthmus allow', () => {
  it("an account, its token Secret, and a binding to the install's read-only role", () => {
    const objs = allowManifests('east-reader') as Obj[];
    expect(objs.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
      'ServiceAccount/east-reader',
      'Secret/east-reader-token',
      'ClusterRoleBinding/isthmus-remote-access-east-reader',
    ]);
    expect(objs[2]).toMatchObject({
      roleRef: { kind: 'ClusterRole', name: 'isthmus-remote-access' },
      subjects: [{ kind: 'ServiceAccount', name: 'east-reader', namespace: 'isthmus-system' }],
    });
  });

  it.each([
    ['East_1', /--service-account-name "East_1": /],
    ['isthmus-remote-access', /is the install's own shared account/],
  ])('refuses %s with the reason', (name, reason) => {
    expect(() => allowManifests(name)).toThrow(reason);
  });
});

describe('peerAccountOf', () => {
  const jwt = (claims: object) => `e30.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.c2ln`;
  const kubeconfig = (token: string) =>
    `apiVersion: v1\nkind: Config\nusers:\n  - name: isthmus-remote-access\n    user:\n      token: ${token}\n`;

  it.each<[string, string, string | undefined]>([
    [
      'a legacy Secret token',
      kubeconfig(jwt({ 'kubernetes.io/serviceaccount/service-account.name': 'east-reader' })),
      'east-reader',
    ],
    [
      'a bound token',
      kubeconfig(jwt({ 'kubernetes.io': { serviceaccount: { name: 'east-reader' } } })),
      'east-reader',
    ],
    [
      'the shared account',
      kubeconfig(jwt({ 'kubernetes.io/serviceaccount/service-account.name': 'isthmus-remote-access' })),
      undefined,
    ],
    ['an opaque token', kubeconfig('reader-secret-token'), undefined],
    ['not YAML at all', ': : :', undefined],
  ])('%s', (_name, text, account) => {
    expect(peerAccountOf(text)).toBe(account);
  });
});

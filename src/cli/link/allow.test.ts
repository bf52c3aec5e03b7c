import { describe, expect, it } from 'vitest';
import { installManifests } from '../install/render.js';
import { testInstallOptions } from '../install/test-options.js';
import { allowManifests, linkAccountFlag, peerAccountOf, refuseForeignAccount } from './allow.js';

/** The accounts the install renders (every option on) or runs its pods as, read from its manifests. */
const installAccounts = (() => {
  const names = new Set<string>();
  type Doc = {
    kind: string;
    metadata: { name: string };
    spec?: { template?: { spec?: { serviceAccountName?: string } } };
  };
  for (const o of installManifests(testInstallOptions({ enableNamespaceCreation: true })) as Doc[]) {
    if (o.kind === 'ServiceAccount') names.add(o.metadata.name);
    const runAs = o.spec?.template?.spec?.serviceAccountName;
    if (runAs) names.add(runAs);
  }
  return [...names].sort();
})();
/** All but the shared read-only account, which `link` uses by default. */
const processAccounts = installAccounts.filter((n) => n !== 'isthmus-remote-access');

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

  it('knows every account the install renders or runs pods as', () => {
    expect(installAccounts).toEqual([
      'isthmus-controller',
      'isthmus-gateway',
      'isthmus-identity',
      'isthmus-remote-access',
    ]);
  });

  // Relabelled and bound by allow, the controller's account (which writes Services and
  // EndpointSlices cluster-wide) would later be deleted to "revoke a peer", stopping the controller.
  it.each(processAccounts)('refuses the install account %s, saying why and what to do', (name) => {
    expect(() => allowManifests(name)).toThrow(
      new RegExp(
        `--service-account-name ${name} is the install's own account: the ${name} pods run as it.*isthmus allow --service-account-name <a new name>`,
      ),
    );
  });

  it("updates an account it made (re-runnable), and refuses to take over anyone else's", () => {
    const sa = (labels?: Record<string, string>) => ({
      metadata: { name: 'ci-bot', namespace: 'isthmus-system', ...(labels ? { labels } : {}) },
    });
    expect(() => refuseForeignAccount(undefined, 'ci-bot')).not.toThrow();
    const made = allowManifests('ci-bot')[0] as { metadata: { labels: Record<string, string> } };
    expect(() => refuseForeignAccount(sa(made.metadata.labels), 'ci-bot')).not.toThrow();
    for (const other of [sa(), sa({ 'app.kubernetes.io/part-of': 'isthmus' })]) {
      expect(() => refuseForeignAccount(other, 'ci-bot')).toThrow(
        /isthmus-system\/ci-bot exists and was not made by isthmus allow .*isthmus allow --service-account-name <a new name>/,
      );
    }
  });
});

describe('link --service-account-name', () => {
  it('takes a peer account or the shared one, never an account an install process runs as', () => {
    expect(linkAccountFlag('east-reader')).toBe('east-reader');
    expect(linkAccountFlag('isthmus-remote-access')).toBe('isthmus-remote-access');
    expect(linkAccountFlag(undefined)).toBe('isthmus-remote-access');
    for (const name of processAccounts) {
      expect(() => linkAccountFlag(name)).toThrow(
        new RegExp(
          `--service-account-name ${name} is the install's own account: the ${name} pods run as it.*isthmus allow --service-account-name <a new name>`,
        ),
      );
    }
    expect(() => linkAccountFlag('East_1')).toThrow(/--service-account-name "East_1": /);
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
    // A Link made before link refused them: unlink must not say to delete the controller's account.
    [
      "an install process's account",
      kubeconfig(jwt({ 'kubernetes.io': { serviceaccount: { name: 'isthmus-controller' } } })),
      undefined,
    ],
    ['an opaque token', kubeconfig('reader-secret-token'), undefined],
    ['not YAML at all', ': : :', undefined],
  ])('%s', (_name, text, account) => {
    expect(peerAccountOf(text)).toBe(account);
  });
});

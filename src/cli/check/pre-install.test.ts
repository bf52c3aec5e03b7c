/**
 * `isthmus check --pre`: the pure checks on their own cases, the gatherer against strict sandboxes
 * (an administrator, a user who may only create namespaces, an installer who may create every kind
 * but not grant the install's permissions (RBAC escalation prevention), a TrafficSplit CRD from
 * another tool), and the command itself, and `kubectl apply` of the install refused as predicted.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { KubeClient } from '../../kube/client.js';
import { SYSTEM_NAMESPACE } from '../../kube/keys.js';
import { R } from '../../kube/resources.js';
import { SERVER_VERSION } from '../../sandbox/discovery.js';
import { type Sandbox, startSandbox } from '../../sandbox/index.js';
import { kubectlWith } from '../../sandbox/test-support.js';
import { admissionPolicyManifests } from '../install/admission-policy.js';
import { networkPolicyManifests } from '../install/network-policy.js';
import { renderInstall } from '../install/render.js';
import { testInstallOptions } from '../install/test-options.js';
import {
  checkCrdsFree,
  checkGrants,
  checkNamespaceFree,
  checkVersion,
  gatherPreFacts,
  INSTALL_KINDS,
  installCreates,
  MIN_MINOR,
  OPTIONAL_INSTALL_KINDS,
  type PreFacts,
  runPreChecks,
} from './pre-install.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'isthmus-pre-'));
let plain: Sandbox;
let bare: Sandbox;

beforeAll(async () => {
  plain = await startSandbox({ name: 'pre' });
  bare = await startSandbox({ name: 'pre-bare', loadCrds: false });
});
afterAll(async () => {
  await plain?.close();
  await bare?.close();
  rmSync(dir, { recursive: true, force: true });
});

const healthy = (): PreFacts => ({
  version: { ok: true, value: 'v1.31.2' },
  deniedCreates: { ok: true, value: [] },
  crds: { ok: true, value: [] },
  namespaceExists: { ok: true, value: false },
  grants: { ok: true, value: [] },
});

const RBAC = 'rbac.authorization.k8s.io';

/** create, get, list and patch on every kind the install applies (what `kubectl apply` uses). */
const INSTALL_WRITER = installCreates().map((p) => ({
  verbs: ['create', 'get', 'list', 'patch'],
  apiGroups: [p.group],
  resources: [p.resource],
}));

/** A token on `sb` for a user with `rules` and the kinds' writes; its kubeconfig. */
function installer(sb: Sandbox, name: string, rules: typeof INSTALL_WRITER = []): string {
  sb.addToken(`${name}-token`, { username: name, rules: [...INSTALL_WRITER, ...rules] });
  return sb.kubeconfig({ token: `${name}-token` });
}

describe('pre-install checks (pure)', () => {
  it('covers every kind the install renders', () => {
    const golden = readFileSync(
      join(import.meta.dirname, '..', 'install', 'testdata', 'install-east.golden.yaml'),
      'utf8',
    );
    const kinds = new Set(parseAllDocuments(golden).map((d) => (d.toJS() as { kind?: string } | null)?.kind));
    kinds.delete(undefined);
    // The opt-in ones: what --network-policy and --admission-policy add.
    const optIn = [
      ...networkPolicyManifests(testInstallOptions({ networkPolicy: true })),
      ...admissionPolicyManifests(testInstallOptions({ admissionPolicy: true })),
    ] as { kind: string }[];
    for (const o of optIn) kinds.add(o.kind);
    expect([...kinds].sort()).toEqual([...INSTALL_KINDS].sort());
    expect(Object.keys(OPTIONAL_INSTALL_KINDS).sort()).toEqual([...new Set(optIn.map((o) => o.kind))].sort());
    const plain = installCreates().map((p) => p.resource);
    expect(plain).not.toContain('networkpolicies');
    expect(plain).not.toContain('validatingadmissionpolicies');
    expect(installCreates({ admissionPolicy: true }).map((p) => p.resource)).toEqual(
      expect.arrayContaining(['validatingadmissionpolicies', 'validatingadmissionpolicybindings']),
    );
    expect(installCreates({ admissionPolicy: true }).map((p) => p.resource)).not.toContain('networkpolicies');
  });

  it.each([
    ['v1.25.16', 'fail'],
    ['v1.26.15-eks-1234', 'fail'],
    ['v1.27.0', 'ok'],
    ['v1.32.3+k3s1', 'ok'],
  ])("needs 1.27, where the PDBs' unhealthyPodEvictionPolicy is on: %s is %s", (version, status) => {
    expect(checkVersion({ ...healthy(), version: { ok: true, value: version } }).status).toBe(status);
  });

  it('passes the version the sandbox claims, whose validation accepts what the install renders', () => {
    expect(
      checkVersion({ ...healthy(), version: { ok: true, value: SERVER_VERSION.gitVersion } }).status,
    ).toBe('ok');
    expect(Number(SERVER_VERSION.minor)).toBeGreaterThanOrEqual(MIN_MINOR);
  });

  it('passes on a healthy cluster and says what is wrong otherwise', () => {
    expect(runPreChecks(healthy()).map((r) => r.status)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
    const old = { ...healthy(), version: { ok: true as const, value: 'v1.24.9' } };
    expect(checkVersion(old)).toMatchObject({
      status: 'fail',
      hints: ['the API server is v1.24.9; Isthmus needs v1.27 or newer'],
    });
    expect(checkVersion({ ...healthy(), version: { ok: true, value: 'weird' } }).status).toBe('warn');
    expect(checkVersion({ ...healthy(), version: { ok: false, error: 'ECONNREFUSED' } }).hints).toEqual([
      'cannot read /version: ECONNREFUSED',
    ]);
    const foreign = {
      ...healthy(),
      crds: { ok: true as const, value: [{ name: 'trafficsplits.split.smi-spec.io', ours: false }] },
    };
    expect(checkCrdsFree(foreign)).toMatchObject({ status: 'warn' });
    expect(checkCrdsFree(foreign).hints[0]).toMatch(
      /^CRD trafficsplits\.split\.smi-spec\.io exists and was not installed by Isthmus .*: install with --no-traffic-split-crd to leave it to its chart/,
    );
    expect(checkNamespaceFree({ ...healthy(), namespaceExists: { ok: true, value: true } }).status).toBe(
      'warn',
    );
  });

  it('says which roles and bindings RBAC escalation prevention refuses, and what to ask for', () => {
    const listPods = { serviceAccount: '(you)', verb: 'list', group: '', resource: 'pods' };
    const getLinks = {
      serviceAccount: '(you)',
      verb: 'get',
      group: 'multicluster.isthmus.dev',
      resource: 'links',
      namespace: SYSTEM_NAMESPACE,
    };
    const grants: PreFacts['grants'] = {
      ok: true,
      value: [
        { kind: 'ClusterRole', name: 'isthmus-gateway', escalate: false, bind: false, notHeld: [listPods] },
        { kind: 'Role', name: 'isthmus-gateway', escalate: true, bind: false, notHeld: [getLinks] },
        { kind: 'ClusterRole', name: 'isthmus-identity', escalate: false, bind: true, notHeld: [listPods] },
        { kind: 'ClusterRole', name: 'held', escalate: false, bind: false, notHeld: [] },
      ],
    };
    expect(checkGrants({ ...healthy(), grants })).toEqual({
      description: 'you may grant what `isthmus install` grants',
      status: 'fail',
      hints: [
        'the install grants list pods cluster-wide, which you do not hold: an API server refuses to create ClusterRole isthmus-gateway and its ClusterRoleBinding (RBAC escalation)',
        `the install grants get links (multicluster.isthmus.dev) in ${SYSTEM_NAMESPACE}, which you do not hold: an API server refuses to create RoleBinding isthmus-gateway, as you may not bind Role isthmus-gateway (RBAC escalation)`,
        'the install grants list pods cluster-wide, which you do not hold: an API server refuses to create ClusterRole isthmus-identity (RBAC escalation)',
        'ask for these permissions, or for the escalate and bind verbs on clusterroles and roles (rbac.authorization.k8s.io), or install as a cluster administrator',
      ],
    });
    // Where the caller may not create the kind at all, checkCreates says so: nothing more here.
    const noClusterRbac = installCreates().filter((p) => p.resource.startsWith('cluster'));
    expect(
      checkGrants({ ...healthy(), grants, deniedCreates: { ok: true, value: noClusterRbac } }).hints,
    ).toEqual([
      `the install grants get links (multicluster.isthmus.dev) in ${SYSTEM_NAMESPACE}, which you do not hold: an API server refuses to create RoleBinding isthmus-gateway, as you may not bind Role isthmus-gateway (RBAC escalation)`,
      'ask for these permissions, or for the bind verb on roles (rbac.authorization.k8s.io), or install as a cluster administrator',
    ]);
    expect(checkGrants({ ...healthy(), grants: { ok: false, error: 'boom' } }).hints).toEqual([
      'cannot read your permissions (SelfSubjectAccessReview): boom',
    ]);
  });
});

describe('pre-install facts from a sandbox', () => {
  it('an administrator on a fresh cluster: everything √', async () => {
    const client = KubeClient.fromKubeconfigString(plain.kubeconfig());
    try {
      const results = runPreChecks(await gatherPreFacts(client));
      expect(results.map((r) => [r.status, r.hints])).toEqual(results.map(() => ['ok', []]));
    } finally {
      client.close();
    }
  });

  it('a user who may only create namespaces is told every kind they may not create', async () => {
    plain.addToken('ns-maker', {
      username: 'ns-maker',
      rules: [{ verbs: ['create'], resources: ['namespaces'], apiGroups: [''] }],
    });
    const client = KubeClient.fromKubeconfigString(plain.kubeconfig({ token: 'ns-maker', user: 'ns-maker' }));
    try {
      const facts = await gatherPreFacts(client);
      expect(facts.deniedCreates).toEqual({
        ok: true,
        value: installCreates().filter((p) => p.resource !== 'namespaces'),
      });
      const [, creates] = runPreChecks(facts);
      expect(creates!.status).toBe('fail');
      expect(creates!.hints[0]).toMatch(
        /^you may not create customresourcedefinitions \(apiextensions\.k8s\.io\) cluster-wide, create serviceaccounts in isthmus-system, .*create poddisruptionbudgets \(policy\) in isthmus-system: install as a cluster administrator$/,
      );
      // For an install with --network-policy, NetworkPolicies are asked about too.
      const [, withPolicies] = runPreChecks(await gatherPreFacts(client, { networkPolicy: true }));
      expect(withPolicies!.hints[0]).toMatch(
        /create poddisruptionbudgets \(policy\) in isthmus-system, create networkpolicies \(networking\.k8s\.io\) in isthmus-system: install as a cluster administrator$/,
      );
    } finally {
      client.close();
    }
  });

  it('an installer who may create every kind but holds none of what it grants: which roles are refused', async () => {
    const client = KubeClient.fromKubeconfigString(installer(plain, 'delegated'));
    try {
      const facts = await gatherPreFacts(client);
      const [, creates, grants] = runPreChecks(facts);
      expect(creates!.status).toBe('ok');
      expect(grants!.status).toBe('fail');
      expect(grants!.hints).toContain(
        'the install grants create tokenreviews (authentication.k8s.io) cluster-wide, which you do not hold: an API server refuses to create ClusterRole isthmus-identity and its ClusterRoleBinding (RBAC escalation)',
      );
      expect(grants!.hints).toContain(
        `the install grants get, list, watch links (multicluster.isthmus.dev) in ${SYSTEM_NAMESPACE}, which you do not hold: an API server refuses to create Role isthmus-gateway and its RoleBinding (RBAC escalation)`,
      );
      expect(grants!.hints.at(-1)).toBe(
        'ask for these permissions, or for the escalate and bind verbs on clusterroles and roles (rbac.authorization.k8s.io), or install as a cluster administrator',
      );
    } finally {
      client.close();
    }
    // Holding the remote-access identity's reads: that role is no longer named, the others are.
    const reads = installer(plain, 'reader-installer', [
      { verbs: ['get', 'list', 'watch'], apiGroups: [''], resources: ['services', 'namespaces'] },
      { verbs: ['get', 'list', 'watch'], apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'] },
    ]);
    const partial = KubeClient.fromKubeconfigString(reads);
    try {
      const hints = checkGrants(await gatherPreFacts(partial)).hints.join('\n');
      expect(hints).not.toContain('isthmus-remote-access');
      expect(hints).not.toContain('ClusterRole isthmus-gateway ');
      expect(hints).toContain('ClusterRole isthmus-controller and its ClusterRoleBinding');
    } finally {
      partial.close();
    }
  });

  it('an installer with escalate and bind on clusterroles and roles passes', async () => {
    const client = KubeClient.fromKubeconfigString(
      installer(plain, 'escalate-bind', [
        { verbs: ['escalate', 'bind'], apiGroups: [RBAC], resources: ['clusterroles', 'roles'] },
      ]),
    );
    try {
      const results = runPreChecks(await gatherPreFacts(client));
      expect(results.map((r) => [r.status, r.hints]).slice(0, 3)).toEqual([
        ['ok', []],
        ['ok', []],
        ['ok', []],
      ]);
    } finally {
      client.close();
    }
  });

  it('kubectl apply of the install by the delegated installer is refused as check --pre predicted', async () => {
    const fresh = await startSandbox({ name: 'pre-apply', loadCrds: false });
    try {
      const kubeconfig = join(dir, 'delegated-kubeconfig');
      writeFileSync(kubeconfig, installer(fresh, 'delegated'));
      const client = KubeClient.fromKubeconfigString(readFileSync(kubeconfig, 'utf8'));
      const facts = await gatherPreFacts(client);
      client.close();
      if (!facts.grants.ok) throw new Error(facts.grants.error);
      const predicted = facts.grants.value
        .filter((g) => g.notHeld.length > 0 && !g.escalate)
        .map((g) => `${g.kind === 'Role' ? 'roles' : 'clusterroles'}/${g.name}`)
        .sort();
      expect(predicted.length).toBeGreaterThan(0);
      const manifest = join(dir, 'install.yaml');
      writeFileSync(manifest, renderInstall(testInstallOptions()));
      const r = await kubectlWith(kubeconfig, dir)('apply', '-f', manifest);
      expect(r.code).not.toBe(0);
      const refused = [
        ...r.stderr.matchAll(
          /(roles|clusterroles)\.rbac\.authorization\.k8s\.io "([^"]+)" is forbidden: user "delegated" \(groups=\["system:authenticated"\]\) is attempting to grant RBAC permissions not currently held/g,
        ),
      ]
        .map((m) => `${m[1]}/${m[2]}`)
        .sort();
      expect(refused).toEqual(predicted);
      // Every binding of a refused role is refused too (its role cannot be read: 404).
      const bindings = [...r.stderr.matchAll(/rbac\.authorization\.k8s\.io "([^"]+)" not found/g)];
      expect(bindings.length).toBe(predicted.length);
      // Everything else applied.
      expect(r.stderr.match(/^Error from server/gm)?.length).toBe(2 * predicted.length);
    } finally {
      await fresh.close();
    }
  });

  it('warns of a TrafficSplit CRD from another tool and of an existing isthmus-system', async () => {
    const client = KubeClient.fromKubeconfigString(bare.kubeconfig());
    try {
      const crd = parseAllDocuments(
        readFileSync(
          join(
            import.meta.dirname,
            '..',
            '..',
            '..',
            'manifests',
            'crds',
            'trafficsplits.split.smi-spec.io.yaml',
          ),
          'utf8',
        ),
      )[0]!.toJS() as { metadata: { labels?: Record<string, string> } };
      delete crd.metadata.labels;
      await client.create(R.crds, crd as never);
      await client.create(R.namespaces, { metadata: { name: SYSTEM_NAMESPACE } });
      const results = runPreChecks(await gatherPreFacts(client));
      expect(results.map((r) => r.status)).toEqual(['ok', 'ok', 'ok', 'warn', 'warn']);
    } finally {
      client.close();
    }
  });

  it('isthmus check --pre prints the verdicts and exits 0 when nothing fails', async () => {
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, plain.kubeconfig());
    const { stdout } = await run(
      process.execPath,
      ['bin/isthmus.mjs', 'check', '--pre', '--kubeconfig', kubeconfig],
      {
        timeout: 60_000,
      },
    );
    expect(stdout).toContain('√ the Kubernetes API is v1.27 or newer');
    expect(stdout).toContain('√ you may create what `isthmus install` applies');
    expect(stdout).toContain('√ you may grant what `isthmus install` grants');
    expect(stdout).toContain('Status check results are √');
  });

  it('isthmus check --pre takes the install flags that change what it grants, and only with --pre', async () => {
    const kubeconfig = join(dir, 'kubeconfig-delegated-flags');
    writeFileSync(kubeconfig, installer(plain, 'delegated-flags'));
    const pre = (...flags: string[]) =>
      run(process.execPath, ['bin/isthmus.mjs', 'check', '--pre', '--kubeconfig', kubeconfig, ...flags], {
        timeout: 60_000,
      }).catch((err: { stdout: string; code: number }) => err);
    const full = await pre();
    expect(full.stdout).toContain('ClusterRole isthmus-identity');
    expect(full.stdout).not.toContain('create namespaces');
    const noGateway = await pre('--no-gateway', '--enable-namespace-creation');
    expect(noGateway.stdout).not.toContain('isthmus-identity');
    expect(noGateway.stdout).not.toContain('Role isthmus-gateway');
    expect(noGateway.stdout).toContain('ClusterRole isthmus-controller');
    expect(noGateway.stdout).toMatch(/the install grants [^\n]*create[^\n]* namespaces/);
    const withoutPre = await run(
      process.execPath,
      ['bin/isthmus.mjs', 'check', '--no-gateway', '--kubeconfig', kubeconfig],
      { timeout: 60_000 },
    ).catch((err: { stderr: string; code: number }) => err);
    expect((withoutPre as { stderr: string }).stderr).toContain('--no-gateway goes with --pre');
  });
});

/**
 * The gatherer against a strict sandbox API server (which here is also the "remote" cluster the
 * Links point at): every failure becomes a fact with the right kind, nothing throws.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testPki } from '../../identity/testing.js';
import { KubeClient } from '../../kube/client.js';
import { SYSTEM_NAMESPACE } from '../../kube/keys.js';
import { R } from '../../kube/resources.js';
import { requestServiceAccountToken } from '../../kube/token-request.js';
import type { KubeObject, Link, V1Secret } from '../../kube/types.js';
import { type Sandbox, startSandbox } from '../../sandbox/index.js';
import { linkCredentialsAccess, rbacManifests } from '../install/rbac.js';
import { installManifests } from '../install/render.js';
import { testInstallOptions } from '../install/test-options.js';
import { applyObjects } from '../lab/apply-objects.js';
import { checkPermissions } from './checks/permissions.js';
import { gatherFacts } from './gather.js';
import { credentialsPermissions, requiredPermissions } from './permissions.js';
import { link } from './test-builders.js';

let sandbox: Sandbox;
let client: KubeClient;

beforeAll(async () => {
  sandbox = await startSandbox({ name: 'east' });
  // Not rate-limited: one gatherFacts asks a SubjectAccessReview per permission (well over the
  // default burst of 100), and the file gathers seven times; at 50 qps the test waited ~12 s on
  // its own client's token bucket, which is not what it is about.
  client = KubeClient.fromKubeconfigString(sandbox.kubeconfig(), undefined, {
    rateLimit: { qps: 0, burst: 0 },
  });
  await client.create(R.namespaces, { metadata: { name: SYSTEM_NAMESPACE } });
  sandbox.addToken('only-namespaces', {
    username: 'reader',
    rules: [{ verbs: ['get', 'list'], resources: ['namespaces'], apiGroups: [''] }],
  });
  // Reads the gateway's namespace, but not the Services and slices of the whole cluster.
  sandbox.addToken('system-only', {
    username: 'system-reader',
    rules: [
      {
        verbs: ['get', 'list', 'watch'],
        resources: ['services'],
        apiGroups: [''],
        namespaces: [SYSTEM_NAMESPACE],
      },
    ],
  });
  // A bound token that expires (`isthmus link --token-duration`), of an account that may read all.
  await client.create(R.serviceAccounts, { metadata: { name: 'bound-reader', namespace: 'default' } });
  await client.create(R.clusterRoleBindings, {
    metadata: { name: 'bound-reader' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
    subjects: [{ kind: 'ServiceAccount', name: 'bound-reader', namespace: 'default' }],
  });
  const bound = await requestServiceAccountToken(client, 'default', 'bound-reader', {
    expirationSeconds: 86_400,
  });
  const credentials: [string, string | undefined][] = [
    ['good', undefined],
    ['bound', bound.token],
    ['revoked', 'no-such-token'],
    ['narrow', 'only-namespaces'],
    ['partial', 'system-only'],
    ['down', undefined],
    ['foreign-ca', undefined],
  ];
  for (const [cluster, token] of credentials) {
    const l = link(cluster, { spec: { gatewayAddress: '127.0.0.1', gatewayPort: 1 } });
    delete l.status;
    await client.create(R.links, l);
    let kubeconfig = sandbox.kubeconfig(token ? { token, user: cluster } : {});
    if (cluster === 'down') kubeconfig = kubeconfig.replace(sandbox.url, 'https://127.0.0.1:1');
    // The Secret trusts another CA than the one that signed the API server's certificate.
    if (cluster === 'foreign-ca') kubeconfig = withCa(kubeconfig, testPki().anchor.certPem);
    await client.create<V1Secret>(R.secrets, {
      metadata: { name: `cluster-credentials-${cluster}`, namespace: SYSTEM_NAMESPACE },
      data: { kubeconfig: Buffer.from(kubeconfig).toString('base64') },
    });
  }
  await client.create(R.links, link('lost'));
});

afterAll(async () => {
  client?.close();
  await sandbox?.close();
});

/** The kubeconfig with its cluster's certificate-authority-data replaced by `caPem`. */
function withCa(kubeconfig: string, caPem: string): string {
  return kubeconfig.replace(
    /certificate-authority-data: \S+/,
    `certificate-authority-data: ${Buffer.from(caPem).toString('base64')}`,
  );
}

describe('gatherFacts', () => {
  it('classifies what each Link credential gets from the remote API', async () => {
    const facts = await gatherFacts(client, { remoteTimeoutMs: 2000 });
    expect(facts.crds).toEqual({
      ok: true,
      value: { 'links.multicluster.isthmus.dev': true, 'trafficsplits.split.smi-spec.io': true },
    });
    const byCluster = Object.fromEntries(
      (facts.links.ok ? facts.links.value : []).map((l) => [l.link.spec.targetClusterName, l]),
    );
    expect(byCluster.good?.remote).toMatchObject({ ok: true, services: 0 });
    expect(byCluster.revoked?.remote).toMatchObject({ ok: false, kind: 'unauthorized' });
    expect(byCluster.narrow?.remote).toMatchObject({ ok: false, kind: 'forbidden' });
    expect(byCluster.partial?.remote).toEqual({
      ok: false,
      kind: 'forbidden',
      message:
        'may not get services cluster-wide, list services cluster-wide, watch services cluster-wide, get namespaces cluster-wide, list namespaces cluster-wide, watch namespaces cluster-wide, get endpointslices (discovery.k8s.io) cluster-wide, list endpointslices (discovery.k8s.io) cluster-wide, watch endpointslices (discovery.k8s.io) cluster-wide',
    });
    expect(byCluster.down?.remote).toMatchObject({ ok: false, kind: 'unreachable' });
    expect(byCluster['foreign-ca']?.remote).toMatchObject({ ok: false, kind: 'untrusted' });
    expect(byCluster.lost?.remote).toEqual({ ok: false, kind: 'secret-missing', message: 'not found' });
    expect(byCluster.good?.gatewayChain).toMatchObject({ ok: false, address: '127.0.0.1:1' });
    // Only a token that expires has a lifetime to report, as its claims give it.
    expect(byCluster.good?.token).toBeUndefined();
    expect(byCluster.bound?.tokenAccount).toBe('bound-reader');
    expect(byCluster.bound?.remote).toMatchObject({ ok: true });
    const { notBefore, expiresAt } = byCluster.bound!.token!;
    expect(Date.parse(expiresAt) - Date.parse(notBefore!)).toBe(86_400_000);
  });

  it('records absent objects as facts rather than throwing', async () => {
    const facts = await gatherFacts(client, { remoteTimeoutMs: 2000 });
    expect(facts.installNamespace).toEqual({ ok: true, value: 'active' });
    expect(facts.lease).toEqual({ ok: true, value: undefined });
    expect(facts.deployments).toEqual({ ok: true, value: [] });
    expect(facts.mirrors).toEqual({ ok: true, value: [] });
    expect(facts.anchorPem).toEqual({ ok: false, error: 'ConfigMap not found' });
    expect(facts.issuerPem).toEqual({ ok: false, error: 'Secret not found' });
  });

  it('asks the API server whether each service account holds what install grants it', async () => {
    const facts = await gatherFacts(client, { remoteTimeoutMs: 2000 });
    const links = (await client.list<Link>(R.links, { namespace: SYSTEM_NAMESPACE })).items;
    const secrets = links.map((l) => l.spec.clusterCredentialsSecret);
    // Nothing installed yet: every permission is denied, each Link's credentials Secret too.
    expect(facts.deniedPermissions).toEqual({
      ok: true,
      value: [...requiredPermissions(SYSTEM_NAMESPACE), ...credentialsPermissions(SYSTEM_NAMESPACE, secrets)],
    });

    const rbac = (enableNamespaceCreation: boolean) =>
      rbacManifests({ namespace: SYSTEM_NAMESPACE, enableNamespaceCreation, gateway: true }) as KubeObject[];
    await applyObjects(client, rbac(false));
    // The install grants no Secret: a Link applied without the Role `isthmus link` prints is named.
    const withoutRoles = await gatherFacts(client, { remoteTimeoutMs: 2000 });
    expect(withoutRoles.deniedPermissions).toEqual({
      ok: true,
      value: credentialsPermissions(SYSTEM_NAMESPACE, secrets),
    });
    expect(checkPermissions(withoutRoles).hints[0]).toBe(
      `isthmus-controller may not read the Link credentials Secret ${secrets[0]}: re-run \`isthmus link … | kubectl apply -f -\` for its cluster, which grants it by name (Role isthmus-controller-credentials-<cluster>)`,
    );
    for (const l of links)
      await applyObjects(
        client,
        linkCredentialsAccess(
          l.spec.targetClusterName,
          l.spec.clusterCredentialsSecret,
          SYSTEM_NAMESPACE,
        ) as KubeObject[],
      );
    const installed = await gatherFacts(client, { remoteTimeoutMs: 2000 });
    expect(installed.deniedPermissions).toEqual({ ok: true, value: [] });
    expect(checkPermissions(installed).status).toBe('ok');
    // The opt-in grant is not part of a default install, and is seen once installed.
    expect(installed.controllerMayCreateNamespaces).toEqual({ ok: true, value: false });
    await applyObjects(client, rbac(true));
    const optedIn = await gatherFacts(client, { remoteTimeoutMs: 2000 });
    expect(optedIn.controllerMayCreateNamespaces).toEqual({ ok: true, value: true });

    // A gateway started with --dial-pod-ips-only needs its pods grant, which its role lacks here.
    const gateway = (
      installManifests(testInstallOptions({ gatewayDialPodIpsOnly: true })) as KubeObject[]
    ).find((o) => o.kind === 'Deployment' && o.metadata?.name === 'isthmus-gateway')!;
    await client.create(R.deployments, gateway);
    const podIPsOnly = await gatherFacts(client, { remoteTimeoutMs: 2000 });
    expect(podIPsOnly.deniedPermissions).toEqual({
      ok: true,
      value: ['get', 'list', 'watch'].map((verb) => ({
        serviceAccount: 'isthmus-gateway',
        verb,
        group: '',
        resource: 'pods',
      })),
    });
    await applyObjects(
      client,
      rbacManifests({
        namespace: SYSTEM_NAMESPACE,
        enableNamespaceCreation: true,
        gateway: true,
        gatewayDialPodIPsOnly: true,
      }) as KubeObject[],
    );
    expect((await gatherFacts(client, { remoteTimeoutMs: 2000 })).deniedPermissions).toEqual({
      ok: true,
      value: [],
    });
    await client.delete(R.deployments, SYSTEM_NAMESPACE, 'isthmus-gateway');

    // Someone trims the controller's Role: it loses its Link status and finalizer writes.
    const role = await client.get<KubeObject & { rules: { resources: string[] }[] }>(
      R.roles,
      SYSTEM_NAMESPACE,
      'isthmus-controller',
    );
    role!.rules = role!.rules.filter((r) => !r.resources.includes('links/status'));
    await client.replace(R.roles, role!);
    const trimmed = await gatherFacts(client, { remoteTimeoutMs: 2000 });
    const result = checkPermissions(trimmed);
    expect(result.status).toBe('fail');
    expect(result.hints).toEqual([
      'isthmus-controller may not patch links/status (multicluster.isthmus.dev) in isthmus-system: its role or binding was changed; re-apply the RBAC of `isthmus install`',
    ]);
  });

  it('reports a user who may not ask as an unreadable fact', async () => {
    const narrow = KubeClient.fromKubeconfigString(
      sandbox.kubeconfig({ token: 'only-namespaces', user: 'reader' }),
    );
    try {
      const facts = await gatherFacts(narrow, { remoteTimeoutMs: 2000 });
      expect(facts.deniedPermissions).toMatchObject({ ok: false });
      expect(checkPermissions(facts).hints[0]).toMatch(
        /^cannot read permissions \(SubjectAccessReview\): .*subjectaccessreviews/,
      );
    } finally {
      narrow.close();
    }
  });
});

/**
 * `isthmus install --admission-policy` enforced end to end: the install applied by the real
 * kubectl to a sandbox (which runs ValidatingAdmissionPolicies as kube-apiserver does), then a
 * tenant with RBAC to write EndpointSlices tries to forge, change, relabel and delete Isthmus's
 * slices (refused with kube's message, through the real kubectl too), while its own unlabelled
 * slices, the controller's service account, the garbage collector and the namespace controller
 * go through.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { ADMISSION_POLICY_NAME, controllerUser } from '../src/cli/install/admission-policy.js';
import { writeCertificates } from '../src/identity/files.js';
import { MANAGED_BY_LABEL, MANAGED_BY_MIRROR } from '../src/kube/keys.js';
import { type Sandbox, startSandbox } from '../src/sandbox/index.js';
import { type ApiResponse, call, closeAgent, eventually } from '../src/sandbox/test-support.js';
import { installArgs, isthmusCli, kubectlWithInput, type Outcome } from './cli-run.js';

const SYSTEM_NAMESPACE = 'isthmus-system';
const TENANT = 'system:serviceaccount:shop:deployer';
const SLICES = (ns: string) => `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`;

const dir = mkdtempSync(join(tmpdir(), 'isthmus-vap-'));
const adminConfig = join(dir, 'admin.kubeconfig');
const tenantConfig = join(dir, 'tenant.kubeconfig');
const admin = kubectlWithInput(adminConfig);
const tenant = kubectlWithInput(tenantConfig);
let sb: Sandbox;
let tenantToken: string;
let controllerToken: string;

function ok(what: string, r: Outcome): string {
  if (r.code !== 0) throw new Error(`${what} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

function okCall(what: string, r: ApiResponse): ApiResponse {
  if (r.status >= 300) throw new Error(`${what}: ${r.status} ${JSON.stringify(r.body)}`);
  return r;
}

const slice = (name: string, labels: Record<string, string> = {}, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'discovery.k8s.io/v1',
  kind: 'EndpointSlice',
  metadata: { name, labels: { 'kubernetes.io/service-name': 'podinfo', ...labels }, ...extra },
  addressType: 'IPv4',
  endpoints: [{ addresses: ['10.0.0.9'] }],
  ports: [{ name: 'http', port: 9898, protocol: 'TCP' }],
});
const mirrorLabel = { [MANAGED_BY_LABEL]: MANAGED_BY_MIRROR };

/** kube-apiserver's refusal of a tenant's `operation` on an Isthmus slice, word for word. */
const refusal = (name: string, operation: string) =>
  `endpointslices.discovery.k8s.io "${name}" is forbidden: ValidatingAdmissionPolicy '${ADMISSION_POLICY_NAME}' with binding '${ADMISSION_POLICY_NAME}' denied request: EndpointSlices managed by ${MANAGED_BY_MIRROR} are written by ${controllerUser(SYSTEM_NAMESPACE)} only (the gateway trusts them as its word): ${TENANT} may not ${operation} one`;

/** The tenant: a namespace, a ServiceAccount, and a Role that lets it write EndpointSlices there. */
const TENANT_RBAC = {
  items: [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'deployer', namespace: 'shop' } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: 'slice-writer', namespace: 'shop' },
      rules: [
        {
          apiGroups: ['discovery.k8s.io'],
          resources: ['endpointslices'],
          verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'],
        },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'deployer-slice-writer', namespace: 'shop' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'slice-writer' },
      subjects: [{ kind: 'ServiceAccount', name: 'deployer', namespace: 'shop' }],
    },
  ],
};

beforeAll(async () => {
  [sb] = await Promise.all([
    startSandbox({ name: 'east' }),
    writeCertificates({ outDir: join(dir, 'certs'), clusters: ['east'], trustDomain: 'cluster.local' }),
  ]);
  writeFileSync(adminConfig, sb.kubeconfig());
  const manifests = ok(
    'isthmus install',
    await isthmusCli([...installArgs(join(dir, 'certs'), 'east'), '--admission-policy']),
  );
  ok('kubectl apply (install)', await admin(['apply', '-f', '-'], manifests));
  ok(
    'kubectl apply (tenant)',
    await admin(['apply', '-f', '-'], TENANT_RBAC.items.map((o) => stringify(o)).join('---\n')),
  );
  tenantToken = ok('token', await admin(['create', 'token', 'deployer', '-n', 'shop'])).trim();
  controllerToken = ok(
    'token',
    await admin(['create', 'token', 'isthmus-controller', '-n', SYSTEM_NAMESPACE]),
  ).trim();
  writeFileSync(tenantConfig, sb.kubeconfig({ token: tenantToken, user: 'deployer' }));
}, 120_000);

afterAll(async () => {
  if (sb) await closeAgent(sb);
  await sb?.close();
  rmSync(dir, { recursive: true, force: true });
});

const asTenant = () => ({ token: tenantToken });
const asController = () => ({ token: controllerToken });
const merge = { contentType: 'application/merge-patch+json' };

describe('the Isthmus admission policy, enforced', () => {
  it('kubectl as a tenant cannot create a slice labelled managed-by mirror.isthmus.dev, and can create an unlabelled one', async () => {
    const forged = await tenant(
      ['create', '-n', 'shop', '-f', '-'],
      JSON.stringify(slice('forged', mirrorLabel)),
    );
    expect(forged.code).not.toBe(0);
    expect(forged.stderr).toContain(
      `Error from server (Forbidden): error when creating "STDIN": ${refusal('forged', 'CREATE')}`,
    );
    const own = await tenant(['create', '-n', 'shop', '-f', '-'], JSON.stringify(slice('tenant-own')));
    expect(ok('tenant creates its own slice', own)).toContain(
      'endpointslice.discovery.k8s.io/tenant-own created',
    );
    // Labelling its own slice as Isthmus's is forging one too.
    const labelled = await tenant([
      'label',
      '-n',
      'shop',
      'endpointslice',
      'tenant-own',
      `${MANAGED_BY_LABEL}=${MANAGED_BY_MIRROR}`,
    ]);
    expect(labelled.code).not.toBe(0);
    expect(labelled.stderr).toContain(refusal('tenant-own', 'UPDATE'));
  });

  it("the controller's service account writes Isthmus slices; a tenant may not update, relabel or delete them", async () => {
    okCall(
      'controller creates',
      await call(sb, 'POST', SLICES('shop'), slice('podinfo-east-1', mirrorLabel), asController()),
    );
    const path = `${SLICES('shop')}/podinfo-east-1`;
    const update = await call(
      sb,
      'PATCH',
      path,
      { endpoints: [{ addresses: ['10.6.6.6'] }] },
      { ...asTenant(), ...merge },
    );
    expect(update.status).toBe(403);
    expect(update.body).toMatchObject({
      reason: 'Forbidden',
      code: 403,
      message: refusal('podinfo-east-1', 'UPDATE'),
    });
    const relabel = await call(
      sb,
      'PATCH',
      path,
      { metadata: { labels: { [MANAGED_BY_LABEL]: null } } },
      { ...asTenant(), ...merge },
    );
    expect(relabel.status).toBe(403);
    expect(relabel.body.message).toBe(refusal('podinfo-east-1', 'UPDATE'));
    const removed = await tenant(['delete', '-n', 'shop', 'endpointslice', 'podinfo-east-1']);
    expect(removed.code).not.toBe(0);
    expect(removed.stderr).toContain(refusal('podinfo-east-1', 'DELETE'));
    const kept = okCall('get', await call(sb, 'GET', path));
    expect(kept.body.metadata.labels[MANAGED_BY_LABEL]).toBe(MANAGED_BY_MIRROR);
    expect(kept.body.endpoints).toEqual([{ addresses: ['10.0.0.9'] }]);
    okCall(
      'controller updates',
      await call(
        sb,
        'PATCH',
        path,
        { endpoints: [{ addresses: ['10.0.0.10'] }] },
        { ...asController(), ...merge },
      ),
    );
    okCall('controller deletes', await call(sb, 'DELETE', path, undefined, asController()));
  });

  it('deleting a mirror Service lets the garbage collector delete the Isthmus slices it owns', async () => {
    const service = okCall(
      'controller creates the mirror Service',
      await call(
        sb,
        'POST',
        '/api/v1/namespaces/shop/services',
        { metadata: { name: 'podinfo-east' }, spec: { ports: [{ name: 'http', port: 9898 }] } },
        asController(),
      ),
    ).body;
    const owner = {
      ownerReferences: [
        {
          apiVersion: 'v1',
          kind: 'Service',
          name: 'podinfo-east',
          uid: service.metadata.uid,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    };
    okCall(
      'owned slice',
      await call(sb, 'POST', SLICES('shop'), slice('podinfo-east-abc', mirrorLabel, owner), asController()),
    );
    ok('admin deletes the Service', await admin(['delete', '-n', 'shop', 'service', 'podinfo-east']));
    await eventually(
      async () => (await call(sb, 'GET', `${SLICES('shop')}/podinfo-east-abc`)).status === 404,
      10_000,
    );
  });

  it('deleting a namespace lets the namespace controller delete the Isthmus slices in it', async () => {
    ok('namespace', await admin(['create', 'namespace', 'shop-2']));
    okCall(
      'slice',
      await call(sb, 'POST', SLICES('shop-2'), slice('podinfo-east-2', mirrorLabel), asController()),
    );
    ok('admin deletes the namespace', await admin(['delete', 'namespace', 'shop-2', '--wait=false']));
    await eventually(async () => (await call(sb, 'GET', '/api/v1/namespaces/shop-2')).status === 404, 10_000);
  });
});

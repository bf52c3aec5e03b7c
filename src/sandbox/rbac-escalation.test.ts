/**
 * RBAC escalation prevention (kube-apiserver's policy-based RBAC storage,
 * pkg/registry/rbac/{role,clusterrole,rolebinding,clusterrolebinding}/policybased): a (Cluster)Role
 * is written only with rules its writer holds (in its namespace, for a Role) or with `escalate`; a
 * binding only with `bind` on the role it references or holding every rule of that role (in the
 * binding's namespace). system:masters skips both. Through undici and the real kubectl.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from './index.js';
import type { PolicyRule } from './rbac.js';
import { call, closeAgent, type Json, kubectlWith } from './test-support.js';

const RBAC = 'rbac.authorization.k8s.io';
const API = `/apis/${RBAC}/v1`;
const CLUSTER_ROLES = `${API}/clusterroles`;
const CRBS = `${API}/clusterrolebindings`;
const roles = (ns: string) => `${API}/namespaces/${ns}/roles`;
const rolebindings = (ns: string) => `${API}/namespaces/${ns}/rolebindings`;
const MERGE = { contentType: 'application/merge-patch+json' };

/** create/get/update/patch on the four RBAC kinds: what an installer without escalate or bind holds. */
const WRITE_RBAC: PolicyRule = {
  apiGroups: [RBAC],
  resources: ['roles', 'clusterroles', 'rolebindings', 'clusterrolebindings'],
  verbs: ['create', 'get', 'update', 'patch'],
};

let sb: Sandbox;
let dir: string;
let counter = 0;

/** POST as the user of `token` (the administrator without one). */
const post = (path: string, body: unknown, token?: string) => call(sb, 'POST', path, body, { token });

/** A static-token user holding `rules` (and WRITE_RBAC), with its token. */
function user(name: string, ...rules: PolicyRule[]): string {
  const token = `${name}-token-${++counter}`;
  sb.addToken(token, { username: name, rules: [WRITE_RBAC, ...rules] });
  return token;
}

function clusterRole(name: string, rules: unknown[], extra: Record<string, unknown> = {}) {
  return { apiVersion: `${RBAC}/v1`, kind: 'ClusterRole', metadata: { name }, rules, ...extra };
}

function role(name: string, namespace: string, rules: unknown[]) {
  return { apiVersion: `${RBAC}/v1`, kind: 'Role', metadata: { name, namespace }, rules };
}

function binding(kind: 'ClusterRoleBinding' | 'RoleBinding', name: string, ref: string, subject: string) {
  return {
    apiVersion: `${RBAC}/v1`,
    kind,
    metadata: { name },
    roleRef: {
      apiGroup: RBAC,
      kind: ref.startsWith('Role:') ? 'Role' : 'ClusterRole',
      name: ref.replace(/^Role:/, ''),
    },
    subjects: [{ kind: 'User', apiGroup: RBAC, name: subject }],
  };
}

const escalation = (resource: string, name: string, username: string, ...missing: string[]) =>
  `${resource}.${RBAC} "${name}" is forbidden: user "${username}" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:\n${missing.join('\n')}`;

const GET_PODS = { apiGroups: [''], resources: ['pods'], verbs: ['get'] };

/** A 403 of RBAC escalation prevention, listing the rules not held. */
function refused(
  r: { status: number; body: Json },
  resource: string,
  name: string,
  username: string,
  ...missing: string[]
) {
  expect({ status: r.status, message: r.body.message }).toEqual({
    status: 403,
    message: escalation(resource, name, username, ...missing),
  });
}

beforeAll(async () => {
  sb = await startSandbox({ name: 'rbac-escalation', loadCrds: false });
  dir = mkdtempSync(join(tmpdir(), 'sandbox-escalation-'));
  for (const ns of ['team-a', 'team-b'])
    await post('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
});
afterAll(async () => {
  await closeAgent(sb);
  await sb.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('creating a (Cluster)Role', () => {
  it('is refused for rules the writer does not hold, worded as kube-apiserver words it', async () => {
    const token = user('role-maker');
    const r = await post(CLUSTER_ROLES, clusterRole('pod-reader', [GET_PODS]), token);
    expect(r.status).toBe(403);
    expect(r.body).toMatchObject({
      kind: 'Status',
      reason: 'Forbidden',
      code: 403,
      details: { name: 'pod-reader', group: RBAC, kind: 'clusterroles' },
    });
    refused(
      r,
      'clusterroles',
      'pod-reader',
      'role-maker',
      '{APIGroups:[""], Resources:["pods"], Verbs:["get"]}',
    );
    // Missing verbs of one resource are compacted into one rule; the rules are sorted.
    const many = await post(
      CLUSTER_ROLES,
      clusterRole('many', [
        { apiGroups: [''], resources: ['services'], verbs: ['get', 'list'] },
        { apiGroups: [''], resources: ['secrets'], verbs: ['get'], resourceNames: ['a', 'b'] },
        { nonResourceURLs: ['/metrics'], verbs: ['get'] },
      ]),
      token,
    );
    refused(
      many,
      'clusterroles',
      'many',
      'role-maker',
      '{APIGroups:[""], Resources:["secrets"], ResourceNames:["a"], Verbs:["get"]}',
      '{APIGroups:[""], Resources:["secrets"], ResourceNames:["b"], Verbs:["get"]}',
      '{APIGroups:[""], Resources:["services"], Verbs:["get" "list"]}',
      '{NonResourceURLs:["/metrics"], Verbs:["get"]}',
    );
    expect((await call(sb, 'GET', `${CLUSTER_ROLES}/pod-reader`)).status).toBe(404);
  });

  it('appends the rule resolver errors: a binding of the writer to a role that does not exist', async () => {
    await post(CRBS, binding('ClusterRoleBinding', 'dangling', 'gone', 'dangling-user'));
    const r = await post(CLUSTER_ROLES, clusterRole('d', [GET_PODS]), user('dangling-user'));
    expect(r.body.message).toBe(
      `${escalation('clusterroles', 'd', 'dangling-user', '{APIGroups:[""], Resources:["pods"], Verbs:["get"]}')}; resolution errors: [clusterroles.${RBAC} "gone" not found]`,
    );
  });

  it('is allowed with escalate on the kind (by name only on update: a create has none)', async () => {
    const token = user('escalator', { apiGroups: [RBAC], resources: ['clusterroles'], verbs: ['escalate'] });
    expect((await post(CLUSTER_ROLES, clusterRole('esc-1', [GET_PODS]), token)).status).toBe(201);
    const named = user('named-escalator', {
      apiGroups: [RBAC],
      resources: ['clusterroles'],
      verbs: ['escalate'],
      resourceNames: ['esc-2'],
    });
    expect((await post(CLUSTER_ROLES, clusterRole('esc-2', [GET_PODS]), named)).status).toBe(403);
    await post(CLUSTER_ROLES, clusterRole('esc-2', []));
    const grow = await call(
      sb,
      'PATCH',
      `${CLUSTER_ROLES}/esc-2`,
      { rules: [GET_PODS] },
      { ...MERGE, token: named },
    );
    expect(grow.status).toBe(200);
  });

  it('is allowed for rules held, statically or through RBAC bindings, with kube wildcards', async () => {
    const holder = user('pod-getter', GET_PODS);
    expect((await post(CLUSTER_ROLES, clusterRole('held', [GET_PODS]), holder)).status).toBe(201);
    // RBAC: a ClusterRole with `*` verbs on pods and pods/log, and a name-limited secrets grant.
    await post(
      CLUSTER_ROLES,
      clusterRole('pods-all', [
        { apiGroups: [''], resources: ['pods', 'pods/log'], verbs: ['*'] },
        { apiGroups: [''], resources: ['secrets'], verbs: ['get'], resourceNames: ['s1'] },
        { nonResourceURLs: ['/metrics/*'], verbs: ['get'] },
      ]),
    );
    await post(CRBS, binding('ClusterRoleBinding', 'pods-all', 'pods-all', 'rbac-holder'));
    const token = user('rbac-holder');
    const ok = await post(
      CLUSTER_ROLES,
      clusterRole('sub', [
        { apiGroups: [''], resources: ['pods', 'pods/log'], verbs: ['get', 'delete', '*'] },
        { apiGroups: [''], resources: ['secrets'], verbs: ['get'], resourceNames: ['s1'] },
        { nonResourceURLs: ['/metrics/a', '/metrics/*'], verbs: ['get'] },
      ]),
      token,
    );
    expect(ok.status).toBe(201);
    const denied = await post(
      CLUSTER_ROLES,
      clusterRole('wider', [
        { apiGroups: [''], resources: ['pods/exec', '*'], verbs: ['get'] },
        { apiGroups: ['*'], resources: ['pods'], verbs: ['get'] },
        { apiGroups: [''], resources: ['secrets'], verbs: ['get'] },
        { nonResourceURLs: ['/metrics'], verbs: ['get'] },
      ]),
      token,
    );
    refused(
      denied,
      'clusterroles',
      'wider',
      'rbac-holder',
      '{APIGroups:[""], Resources:["*"], Verbs:["get"]}',
      '{APIGroups:[""], Resources:["pods/exec"], Verbs:["get"]}',
      '{APIGroups:[""], Resources:["secrets"], Verbs:["get"]}',
      '{APIGroups:["*"], Resources:["pods"], Verbs:["get"]}',
      '{NonResourceURLs:["/metrics"], Verbs:["get"]}',
    );
  });

  it('a Role needs the rules in its own namespace; an aggregationRule needs full authority', async () => {
    await post(CLUSTER_ROLES, clusterRole('pod-get', [GET_PODS]));
    await post(rolebindings('team-a'), binding('RoleBinding', 'ns-getter', 'pod-get', 'ns-getter'));
    const token = user('ns-getter');
    expect((await post(roles('team-a'), role('r', 'team-a', [GET_PODS]), token)).status).toBe(201);
    const b = await post(roles('team-b'), role('r', 'team-b', [GET_PODS]), token);
    expect(b.status).toBe(403);
    refused(b, 'roles', 'r', 'ns-getter', '{APIGroups:[""], Resources:["pods"], Verbs:["get"]}');
    // Nor may the namespaced grant make a ClusterRole.
    expect((await post(CLUSTER_ROLES, clusterRole('ns-wide', [GET_PODS]), token)).status).toBe(403);
    const aggregated = clusterRole('agg', [], {
      aggregationRule: { clusterRoleSelectors: [{ matchLabels: { agg: 'yes' } }] },
    });
    const agg = await post(CLUSTER_ROLES, aggregated, token);
    expect(agg.status).toBe(403);
    expect(agg.body.message).toBe(
      `clusterroles.${RBAC} "agg" is forbidden: must have cluster-admin privileges to use the aggregationRule`,
    );
    expect((await post(CLUSTER_ROLES, aggregated)).status).toBe(201);
  });

  it('an update (PUT, merge PATCH) is checked on the rules it leaves, a GC-only change is not', async () => {
    const token = user('updater', GET_PODS);
    const created = await post(CLUSTER_ROLES, clusterRole('grow', [GET_PODS]), token);
    expect(created.status).toBe(201);
    const wider = [GET_PODS, { apiGroups: [''], resources: ['secrets'], verbs: ['list'] }];
    const put = await call(sb, 'PUT', `${CLUSTER_ROLES}/grow`, { ...created.body, rules: wider }, { token });
    expect(put.status).toBe(403);
    refused(
      put,
      'clusterroles',
      'grow',
      'updater',
      '{APIGroups:[""], Resources:["secrets"], Verbs:["list"]}',
    );
    const patch = await call(sb, 'PATCH', `${CLUSTER_ROLES}/grow`, { rules: wider }, { ...MERGE, token });
    expect(patch.status).toBe(403);
    expect(patch.body.message).toBe(put.body.message);
    const label = await call(
      sb,
      'PATCH',
      `${CLUSTER_ROLES}/grow`,
      { metadata: { labels: { a: 'b' } } },
      {
        ...MERGE,
        token,
      },
    );
    expect(label.status).toBe(200);
    // A role holding rules the writer lacks: a label is refused, a finalizer (GC field) is not.
    await post(CLUSTER_ROLES, clusterRole('secret-list', [wider[1]]));
    const gc = await call(
      sb,
      'PATCH',
      `${CLUSTER_ROLES}/secret-list`,
      { metadata: { finalizers: ['x/y'] } },
      {
        ...MERGE,
        token,
      },
    );
    expect(gc.status).toBe(200);
    const relabel = await call(
      sb,
      'PATCH',
      `${CLUSTER_ROLES}/secret-list`,
      { metadata: { labels: { a: 'b' } } },
      {
        ...MERGE,
        token,
      },
    );
    expect(relabel.status).toBe(403);
    // PUT creating a missing role (allowCreateOnUpdate) is a create.
    const putCreate = await call(sb, 'PUT', `${CLUSTER_ROLES}/fresh`, clusterRole('fresh', wider), { token });
    expect(putCreate.status).toBe(403);
    await call(sb, 'PATCH', `${CLUSTER_ROLES}/secret-list`, { metadata: { finalizers: null } }, MERGE);
  });
});

describe('creating a binding', () => {
  it('of cluster-admin to oneself is refused without bind, allowed with bind on that name', async () => {
    const token = user('self-binder');
    const r = await post(
      CRBS,
      binding('ClusterRoleBinding', 'me-admin', 'cluster-admin', 'self-binder'),
      token,
    );
    expect(r.status).toBe(403);
    refused(
      r,
      'clusterrolebindings',
      'me-admin',
      'self-binder',
      '{APIGroups:["*"], Resources:["*"], Verbs:["*"]}',
      '{NonResourceURLs:["*"], Verbs:["*"]}',
    );
    const other = user('view-binder', {
      apiGroups: [RBAC],
      resources: ['clusterroles'],
      verbs: ['bind'],
      resourceNames: ['view'],
    });
    expect(
      (await post(CRBS, binding('ClusterRoleBinding', 'v-admin', 'cluster-admin', 'x'), other)).status,
    ).toBe(403);
    const binder = user('admin-binder', {
      apiGroups: [RBAC],
      resources: ['clusterroles'],
      verbs: ['bind'],
      resourceNames: ['cluster-admin'],
    });
    const ok = await post(CRBS, binding('ClusterRoleBinding', 'b-admin', 'cluster-admin', 'x'), binder);
    expect(ok.status).toBe(201);
  });

  it('a RoleBinding to a ClusterRole: allowed where the writer holds its rules, not elsewhere', async () => {
    await post(CLUSTER_ROLES, clusterRole('pod-getter', [GET_PODS]));
    await post(rolebindings('team-a'), binding('RoleBinding', 'holder', 'pod-getter', 'rb-holder'));
    const token = user('rb-holder');
    const a = await post(
      rolebindings('team-a'),
      binding('RoleBinding', 'share', 'pod-getter', 'friend'),
      token,
    );
    expect(a.status).toBe(201);
    const b = await post(
      rolebindings('team-b'),
      binding('RoleBinding', 'share', 'pod-getter', 'friend'),
      token,
    );
    expect(b.status).toBe(403);
    refused(b, 'rolebindings', 'share', 'rb-holder', '{APIGroups:[""], Resources:["pods"], Verbs:["get"]}');
    // Nor cluster-wide.
    const crb = await post(CRBS, binding('ClusterRoleBinding', 'share', 'pod-getter', 'friend'), token);
    expect(crb.status).toBe(403);
    // bind in one namespace (a RoleBinding's check is in its namespace).
    sb.addToken('ns-binder-token', {
      username: 'ns-binder',
      rules: [
        WRITE_RBAC,
        { apiGroups: [RBAC], resources: ['clusterroles'], verbs: ['bind'], namespaces: ['team-b'] },
      ],
    });
    const nsBind = 'ns-binder-token';
    expect(
      (await post(rolebindings('team-b'), binding('RoleBinding', 'nb', 'cluster-admin', 'y'), nsBind)).status,
    ).toBe(201);
    expect((await post(CRBS, binding('ClusterRoleBinding', 'nb', 'cluster-admin', 'y'), nsBind)).status).toBe(
      403,
    );
  });

  it('to a role that does not exist: 404 without bind (its rules cannot be read), created with bind', async () => {
    const token = user('ghost-binder');
    const r = await post(CRBS, binding('ClusterRoleBinding', 'ghost', 'no-such-role', 'x'), token);
    expect(r.status).toBe(404);
    expect(r.body).toMatchObject({
      reason: 'NotFound',
      message: `clusterroles.${RBAC} "no-such-role" not found`,
      details: { name: 'no-such-role', group: RBAC, kind: 'clusterroles' },
    });
    const ns = await post(rolebindings('team-a'), binding('RoleBinding', 'ghost', 'Role:nope', 'x'), token);
    expect(ns.status).toBe(404);
    expect(ns.body.message).toBe(`roles.${RBAC} "nope" not found`);
    const binder = user('any-binder', {
      apiGroups: [RBAC],
      resources: ['clusterroles', 'roles'],
      verbs: ['bind'],
    });
    expect(
      (await post(CRBS, binding('ClusterRoleBinding', 'ghost', 'no-such-role', 'x'), binder)).status,
    ).toBe(201);
  });

  it('with a roleRef kind that is neither Role nor ClusterRole: the rule resolver error, a 500', async () => {
    const bad = {
      ...binding('ClusterRoleBinding', 'odd', 'x', 'x'),
      roleRef: { apiGroup: RBAC, kind: 'Group', name: 'x' },
    };
    const r = await post(CRBS, bad, user('odd-binder'));
    // StatusReasonUnknown is "": no reason in the Status.
    expect([r.status, r.body.reason, r.body.message]).toEqual([
      500,
      undefined,
      'unsupported role reference kind: "Group"',
    ]);
    // An administrator gets validation's answer.
    expect((await post(CRBS, bad)).status).toBe(422);
  });

  it('an update re-checks the binding (PUT and merge PATCH of the subjects)', async () => {
    await post(
      CLUSTER_ROLES,
      clusterRole('secret-reader', [{ apiGroups: [''], resources: ['secrets'], verbs: ['get'] }]),
    );
    const made = await post(CRBS, binding('ClusterRoleBinding', 'readers', 'secret-reader', 'someone'));
    const token = user('rebinder');
    const body = { ...made.body, subjects: [{ kind: 'User', apiGroup: RBAC, name: 'rebinder' }] };
    const put = await call(sb, 'PUT', `${CRBS}/readers`, body, { token });
    expect(put.status).toBe(403);
    refused(
      put,
      'clusterrolebindings',
      'readers',
      'rebinder',
      '{APIGroups:[""], Resources:["secrets"], Verbs:["get"]}',
    );
    const patch = await call(
      sb,
      'PATCH',
      `${CRBS}/readers`,
      { subjects: body.subjects },
      { ...MERGE, token },
    );
    expect(patch.status).toBe(403);
    expect((await call(sb, 'GET', `${CRBS}/readers`)).body.subjects[0].name).toBe('someone');
  });

  it('system:masters is not checked', async () => {
    sb.addToken('masters-token', { username: 'root', groups: ['system:masters'], rules: [WRITE_RBAC] });
    const r = await post(
      CRBS,
      binding('ClusterRoleBinding', 'root', 'cluster-admin', 'root'),
      'masters-token',
    );
    expect(r.status).toBe(201);
  });
});

describe('kubectl', () => {
  it('kubectl create clusterrolebinding of cluster-admin by a user without bind is refused', async () => {
    const token = user('kubectl-user', { apiGroups: [RBAC], resources: ['clusterroles'], verbs: ['list'] });
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, sb.kubeconfig({ token }));
    const kubectl = kubectlWith(kubeconfig, dir);
    const r = await kubectl('create', 'clusterrolebinding', 'kc', '--clusterrole=cluster-admin', '--group=g');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(
      'clusterrolebindings.rbac.authorization.k8s.io "kc" is forbidden: user "kubectl-user" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:\n{APIGroups:["*"], Resources:["*"], Verbs:["*"]}\n{NonResourceURLs:["*"], Verbs:["*"]}',
    );
    const role = await kubectl('create', 'clusterrole', 'kc-pods', '--verb=get', '--resource=pods');
    expect(role.code).not.toBe(0);
    expect(role.stderr).toContain(
      'clusterroles.rbac.authorization.k8s.io "kc-pods" is forbidden: user "kubectl-user" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:\n{APIGroups:[""], Resources:["pods"], Verbs:["get"]}',
    );
  });
});

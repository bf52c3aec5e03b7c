import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from './index.js';
import { call, closeAgent, eventually, kubectlWith, svc } from './test-support.js';

let sb: Sandbox;
beforeAll(async () => {
  sb = await startSandbox({ name: 'auth', tls: false, loadCrds: false });
});
afterAll(async () => {
  await closeAgent(sb);
  await sb.close();
});

describe('authentication', () => {
  it('answers 401 without a token or with an unknown one', async () => {
    for (const token of [null, 'nope']) {
      const r = await call(sb, 'GET', '/api/v1/namespaces', undefined, { token });
      expect(r.status).toBe(401);
      expect(r.body).toMatchObject({ kind: 'Status', reason: 'Unauthorized', code: 401 });
    }
  });
});

describe('static token rules', () => {
  it('allow what the rules name and answer 403 worded like kube-apiserver otherwise', async () => {
    sb.addToken('reader', {
      username: 'reader',
      rules: [{ verbs: ['get', 'list', 'watch'], resources: ['services'], namespaces: ['default'] }],
    });
    expect(
      (await call(sb, 'GET', '/api/v1/namespaces/default/services', undefined, { token: 'reader' })).status,
    ).toBe(200);
    const other = await call(sb, 'GET', '/api/v1/namespaces/kube-system/services', undefined, {
      token: 'reader',
    });
    expect(other.status).toBe(403);
    expect(other.body.message).toBe(
      'services is forbidden: User "reader" cannot list resource "services" in API group "" in the namespace "kube-system"',
    );
    const write = await call(sb, 'POST', '/api/v1/namespaces/default/services', svc('x'), {
      token: 'reader',
    });
    expect(write.status).toBe(403);
    const status = await call(sb, 'GET', '/api/v1/namespaces/default/services/kubernetes/status', undefined, {
      token: 'reader',
    });
    expect(status.status).toBe(403);
    expect(status.body.message).toContain('cannot get resource "services/status"');
    const cluster = await call(sb, 'GET', '/api/v1/namespaces', undefined, { token: 'reader' });
    expect(cluster.body.message).toBe(
      'namespaces is forbidden: User "reader" cannot list resource "namespaces" in API group "" at the cluster scope',
    );
  });
});

describe('ServiceAccount tokens and RBAC', () => {
  it('fills a service-account-token Secret, authenticates with it, and evaluates Role bindings', async () => {
    await call(sb, 'POST', '/api/v1/namespaces/default/serviceaccounts', { metadata: { name: 'mirror' } });
    await call(sb, 'POST', '/api/v1/namespaces/default/secrets', {
      metadata: { name: 'mirror-token', annotations: { 'kubernetes.io/service-account.name': 'mirror' } },
      type: 'kubernetes.io/service-account-token',
    });
    const secret = await eventually(async () => {
      const r = await call(sb, 'GET', '/api/v1/namespaces/default/secrets/mirror-token');
      return r.body.data?.token ? r.body : undefined;
    });
    expect(Buffer.from(secret.data.namespace, 'base64').toString()).toBe('default');
    const token = Buffer.from(secret.data.token, 'base64').toString();

    const denied = await call(sb, 'GET', '/api/v1/namespaces/default/services', undefined, { token });
    expect(denied.status).toBe(403);
    expect(denied.body.message).toContain(
      'User "system:serviceaccount:default:mirror" cannot list resource "services"',
    );

    const rbac = '/apis/rbac.authorization.k8s.io/v1/namespaces/default';
    await call(sb, 'POST', `${rbac}/roles`, {
      metadata: { name: 'svc-reader' },
      rules: [
        { apiGroups: [''], resources: ['services'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: [''], resources: ['services/status'], verbs: ['patch'], resourceNames: ['kubernetes'] },
      ],
    });
    await call(sb, 'POST', `${rbac}/rolebindings`, {
      metadata: { name: 'mirror-svc-reader' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'svc-reader' },
      subjects: [{ kind: 'ServiceAccount', name: 'mirror', namespace: 'default' }],
    });
    expect((await call(sb, 'GET', '/api/v1/namespaces/default/services', undefined, { token })).status).toBe(
      200,
    );
    expect(
      (await call(sb, 'GET', '/api/v1/namespaces/kube-system/services', undefined, { token })).status,
    ).toBe(403);
    expect(
      (await call(sb, 'DELETE', '/api/v1/namespaces/default/services/kubernetes', undefined, { token }))
        .status,
    ).toBe(403);
    const patch = (name: string) =>
      call(
        sb,
        'PATCH',
        `/api/v1/namespaces/default/services/${name}/status`,
        { status: {} },
        {
          token,
          contentType: 'application/merge-patch+json',
        },
      );
    expect((await patch('kubernetes')).status).toBe(200);
    expect((await patch('other')).status).toBe(403);

    // resourceNames grant a list or watch that pins the name with a field selector, and nothing wider.
    await call(sb, 'POST', `${rbac}/roles`, {
      metadata: { name: 'one-secret' },
      rules: [
        {
          apiGroups: [''],
          resources: ['secrets'],
          verbs: ['get', 'list', 'watch'],
          resourceNames: ['mirror-token'],
        },
      ],
    });
    await call(sb, 'POST', `${rbac}/rolebindings`, {
      metadata: { name: 'mirror-one-secret' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'one-secret' },
      subjects: [{ kind: 'ServiceAccount', name: 'mirror', namespace: 'default' }],
    });
    const secrets = (query: string) =>
      call(sb, 'GET', `/api/v1/namespaces/default/secrets${query}`, undefined, { token }).then(
        (r) => r.status,
      );
    expect(await secrets('/mirror-token')).toBe(200);
    expect(await secrets('?fieldSelector=metadata.name%3Dmirror-token')).toBe(200);
    expect(await secrets('?fieldSelector=metadata.name%3D%3Dmirror-token,type%3Dx')).toBe(200);
    expect(await secrets('?watch=true&timeoutSeconds=1&fieldSelector=metadata.name%3Dmirror-token')).toBe(
      200,
    );
    expect(await secrets('')).toBe(403);
    expect(await secrets('?fieldSelector=metadata.name%3Dother')).toBe(403);
    expect(await secrets('?fieldSelector=metadata.name!%3Dother')).toBe(403);
    expect(await secrets('/other')).toBe(403);

    // ClusterRoleBinding to cluster-admin grants everything.
    await call(sb, 'POST', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', {
      metadata: { name: 'mirror-admin' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
      subjects: [{ kind: 'ServiceAccount', name: 'mirror', namespace: 'default' }],
    });
    expect((await call(sb, 'GET', '/api/v1/namespaces', undefined, { token })).status).toBe(200);

    // TokenReview answers for the SA token and for unknown tokens.
    const review = await call(sb, 'POST', '/apis/authentication.k8s.io/v1/tokenreviews', {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenReview',
      spec: { token },
    });
    expect(review.status).toBe(201);
    expect(review.body.status).toMatchObject({
      authenticated: true,
      user: {
        username: 'system:serviceaccount:default:mirror',
        groups: expect.arrayContaining(['system:serviceaccounts']),
      },
    });
    const bad = await call(sb, 'POST', '/apis/authentication.k8s.io/v1/tokenreviews', {
      spec: { token: 'nope' },
    });
    expect(bad.body.status.authenticated).toBe(false);
    // No token at all is the registry's 400, not an unauthenticated review.
    const empty = await call(sb, 'POST', '/apis/authentication.k8s.io/v1/tokenreviews', { spec: {} });
    expect(empty.status).toBe(400);
    expect(empty.body.message).toBe('token is required for TokenReview in authentication');

    // Deleting the Secret revokes the token.
    await call(sb, 'DELETE', '/api/v1/namespaces/default/secrets/mirror-token');
    expect((await call(sb, 'GET', '/api/v1/namespaces/default/services', undefined, { token })).status).toBe(
      401,
    );
  });
});

describe('TokenRequest (serviceaccounts/token) and audiences', () => {
  const review = (token: string, audiences?: string[]) =>
    call(sb, 'POST', '/apis/authentication.k8s.io/v1/tokenreviews', {
      kind: 'TokenReview',
      spec: { token, ...(audiences ? { audiences } : {}) },
    });
  const request = (name: string, spec: Record<string, unknown>) =>
    call(sb, 'POST', `/api/v1/namespaces/default/serviceaccounts/${name}/token`, {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec,
    });

  it('binds a token to its audiences: TokenReview accepts it for those only, the API server not at all', async () => {
    await call(sb, 'POST', '/api/v1/namespaces/default/serviceaccounts', { metadata: { name: 'gw' } });
    const r = await request('gw', { audiences: ['identity.isthmus.dev'], expirationSeconds: 600 });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({
      kind: 'TokenRequest',
      spec: { audiences: ['identity.isthmus.dev'], expirationSeconds: 600 },
      status: { token: expect.any(String), expirationTimestamp: expect.stringMatching(/Z$/) },
    });
    const token = r.body.status.token as string;
    expect((await review(token, ['identity.isthmus.dev'])).body.status).toMatchObject({
      authenticated: true,
      user: { username: 'system:serviceaccount:default:gw' },
      audiences: ['identity.isthmus.dev'],
    });
    expect((await review(token, ['other.example'])).body.status).toEqual({
      authenticated: false,
      user: {},
      error:
        '[invalid bearer token, token audiences ["identity.isthmus.dev"] is invalid for the target audiences ["other.example"]]',
    });
    // No audiences in the review: the API server's own, which this token is not for.
    expect((await review(token)).body.status.authenticated).toBe(false);
    expect((await call(sb, 'GET', '/api/v1/namespaces/default/services', undefined, { token })).status).toBe(
      401,
    );

    // Without audiences the token is the API server's, and a token for another audience is not.
    const apiToken = (await request('gw', {})).body.status.token as string;
    expect((await review(apiToken)).body.status).toMatchObject({
      authenticated: true,
      audiences: ['https://kubernetes.default.svc.cluster.local'],
    });
    expect((await review(apiToken, ['identity.isthmus.dev'])).body.status.authenticated).toBe(false);
    // Static tokens know no audience either.
    sb.addToken('static-admin', { username: 'static-admin', rules: 'admin' });
    expect((await review('static-admin', ['identity.isthmus.dev'])).body.status.authenticated).toBe(false);

    // The token dies with its ServiceAccount.
    await call(sb, 'DELETE', '/api/v1/namespaces/default/serviceaccounts/gw');
    expect((await review(token, ['identity.isthmus.dev'])).body.status.authenticated).toBe(false);
  });

  it('binds a token to a pod as the kubelet asks: TokenReview names the pod in user.extra, and the token dies with the pod', async () => {
    await call(sb, 'POST', '/api/v1/namespaces/default/serviceaccounts', { metadata: { name: 'gateway' } });
    const pod = (name: string, serviceAccountName: string) =>
      call(sb, 'POST', '/api/v1/namespaces/default/pods', {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name },
        spec: { serviceAccountName, containers: [{ name: 'gateway', image: 'example/gateway:1' }] },
      });
    const created = await pod('gateway-5d8c7b9f4-x2kqp', 'gateway');
    expect(created.status).toBe(201);
    const uid = created.body.metadata.uid as string;
    const boundTo = (name: string, extra: Record<string, unknown> = {}) =>
      request('gateway', {
        audiences: ['identity.isthmus.dev'],
        boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name, ...extra },
      });
    const r = await boundTo('gateway-5d8c7b9f4-x2kqp');
    expect(r.status).toBe(201);
    expect(r.body.spec.boundObjectRef).toEqual({
      kind: 'Pod',
      apiVersion: 'v1',
      name: 'gateway-5d8c7b9f4-x2kqp',
      uid,
    });
    const token = r.body.status.token as string;
    const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8'));
    expect(claims['kubernetes.io'].pod).toEqual({ name: 'gateway-5d8c7b9f4-x2kqp', uid });
    expect((await review(token, ['identity.isthmus.dev'])).body.status.user).toEqual({
      username: 'system:serviceaccount:default:gateway',
      uid: expect.any(String),
      groups: ['system:serviceaccounts', 'system:serviceaccounts:default', 'system:authenticated'],
      extra: {
        'authentication.kubernetes.io/pod-name': ['gateway-5d8c7b9f4-x2kqp'],
        'authentication.kubernetes.io/pod-uid': [uid],
      },
    });
    // A token bound to no pod has no extra.
    const unbound = (await request('gateway', { audiences: ['identity.isthmus.dev'] })).body.status.token;
    expect((await review(unbound, ['identity.isthmus.dev'])).body.status.user).not.toHaveProperty('extra');

    // kube-apiserver's refusals: no such pod, another pod's uid, a pod of another account.
    expect((await boundTo('gone')).status).toBe(404);
    expect((await boundTo('gateway-5d8c7b9f4-x2kqp', { uid: 'other' })).status).toBe(409);
    expect((await pod('web-7c9d8f6b5-q4lzm', 'default')).status).toBe(201);
    const other = await boundTo('web-7c9d8f6b5-q4lzm');
    expect(other.status).toBe(400);
    expect(other.body.message).toBe(
      'cannot bind token for serviceaccount "gateway" to pod running with different serviceaccount name.',
    );

    await call(sb, 'DELETE', '/api/v1/namespaces/default/pods/gateway-5d8c7b9f4-x2kqp');
    // A pod never scheduled is deleted at once, and its token with it.
    expect((await review(token, ['identity.isthmus.dev'])).body.status.authenticated).toBe(false);
  });

  it("writes a bound token's claims as kube-apiserver does, and refuses it once it has expired", async () => {
    await call(sb, 'POST', '/api/v1/namespaces/default/serviceaccounts', { metadata: { name: 'reader' } });
    const r = await request('reader', { expirationSeconds: 7200 });
    const token = r.body.status.token as string;
    const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8'));
    expect(claims).toMatchObject({
      aud: ['https://kubernetes.default.svc.cluster.local'],
      sub: 'system:serviceaccount:default:reader',
      'kubernetes.io': { namespace: 'default', serviceaccount: { name: 'reader' } },
    });
    expect(claims.exp - claims.iat).toBe(7200);
    expect(new Date(claims.exp * 1000).toISOString().replace('.000Z', 'Z')).toBe(
      r.body.status.expirationTimestamp,
    );
    // The account has no Role: authenticated, so 403, until the token lapses, then 401.
    const list = (t: string) =>
      call(sb, 'GET', '/api/v1/namespaces/default/services', undefined, { token: t });
    expect((await list(token)).status).toBe(403);
    sb.faults.expireBoundTokens();
    expect((await list(token)).status).toBe(401);
    // A token requested afterwards has its own lifetime ahead of it.
    const fresh = (await request('reader', { expirationSeconds: 7200 })).body.status.token as string;
    expect((await list(fresh)).status).toBe(403);
  });

  it('refuses what kube-apiserver refuses: a short lifetime, a missing ServiceAccount, GET', async () => {
    await call(sb, 'POST', '/api/v1/namespaces/default/serviceaccounts', { metadata: { name: 'short' } });
    const short = await request('short', { expirationSeconds: 60 });
    expect(short.status).toBe(422);
    expect(short.body.message).toContain(
      'spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 10 minutes',
    );
    expect((await request('nobody', {})).status).toBe(404);
    expect((await call(sb, 'GET', '/api/v1/namespaces/default/serviceaccounts/short/token')).status).toBe(
      405,
    );
  });

  it('refuses a TokenRequest in a terminating namespace (NamespaceLifecycle admits subresource creates too)', async () => {
    await call(sb, 'POST', '/api/v1/namespaces', { metadata: { name: 'ending' } });
    await call(sb, 'POST', '/api/v1/namespaces/ending/serviceaccounts', { metadata: { name: 'gw' } });
    // A finalizer keeps the namespace Terminating for the length of the test.
    await call(sb, 'POST', '/api/v1/namespaces/ending/configmaps', {
      metadata: { name: 'held', finalizers: ['x.io/hold'] },
    });
    expect((await call(sb, 'DELETE', '/api/v1/namespaces/ending')).status).toBe(200);
    const r = await call(sb, 'POST', '/api/v1/namespaces/ending/serviceaccounts/gw/token', {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: {},
    });
    expect(r.status).toBe(403);
    expect(r.body.message).toContain(
      'unable to create new content in namespace ending because it is being terminated',
    );
  });

  it('kubectl create token --audience gets a token bound to that audience', async () => {
    // kubectl sends no bearer token over plain HTTP: this one runs on a TLS sandbox.
    const tls = await startSandbox({ name: 'create-token', loadCrds: false });
    const dir = mkdtempSync(join(tmpdir(), 'sandbox-create-token-'));
    try {
      const kubeconfig = join(dir, 'kubeconfig');
      writeFileSync(kubeconfig, tls.kubeconfig());
      const kubectl = kubectlWith(kubeconfig, dir);
      expect((await kubectl('create', 'serviceaccount', 'gw')).code).toBe(0);
      const made = await kubectl(
        'create',
        'token',
        'gw',
        '--audience',
        'identity.isthmus.dev',
        '--duration',
        '10m',
      );
      expect({ code: made.code, err: made.stderr }).toEqual({ code: 0, err: '' });
      const r = await call(tls, 'POST', '/apis/authentication.k8s.io/v1/tokenreviews', {
        spec: { token: made.stdout.trim(), audiences: ['identity.isthmus.dev'] },
      });
      expect(r.body.status).toMatchObject({
        authenticated: true,
        user: { username: 'system:serviceaccount:default:gw' },
      });
    } finally {
      await closeAgent(tls);
      await tls.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('SubjectAccessReview', () => {
  const review = (spec: Record<string, unknown>) =>
    call(sb, 'POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec,
    });
  const sa = { user: 'system:serviceaccount:default:prober', groups: ['system:serviceaccounts'] };
  const can = async (resourceAttributes: Record<string, unknown>, who: Record<string, unknown> = sa) => {
    const r = await review({ ...who, resourceAttributes });
    expect(r.status).toBe(201);
    return r.body.status.allowed as boolean;
  };

  it('answers from RBAC for the named user: a Role binds in its namespace only, masters may do anything', async () => {
    const rbac = '/apis/rbac.authorization.k8s.io/v1';
    await call(sb, 'POST', `${rbac}/namespaces/default/roles`, {
      metadata: { name: 'prober' },
      rules: [{ apiGroups: [''], resources: ['pods/proxy'], verbs: ['get'] }],
    });
    await call(sb, 'POST', `${rbac}/namespaces/default/rolebindings`, {
      metadata: { name: 'prober' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'prober' },
      subjects: [{ kind: 'ServiceAccount', name: 'prober', namespace: 'default' }],
    });
    const proxy = { verb: 'get', resource: 'pods', subresource: 'proxy' };
    expect(await can({ ...proxy, namespace: 'default' })).toBe(true);
    expect(await can({ ...proxy, namespace: 'kube-system' })).toBe(false);
    expect(await can(proxy)).toBe(false); // cluster-wide: the Role does not reach
    expect(await can({ verb: 'get', resource: 'pods', namespace: 'default' })).toBe(false);
    expect(
      await can({ verb: 'delete', resource: 'nodes' }, { user: 'root', groups: ['system:masters'] }),
    ).toBe(true);
  });

  it('refuses a spec kube-apiserver refuses (422), and answers non-resource questions with a denial', async () => {
    const neither = await review({ user: 'x' });
    expect(neither.status).toBe(422);
    expect(neither.body.message).toBe(
      'SubjectAccessReview.authorization.k8s.io "" is invalid: spec.resourceAttributes: Invalid value: "null": exactly one of nonResourceAttributes or resourceAttributes must be specified',
    );
    const nobody = await review({ resourceAttributes: { verb: 'get', resource: 'pods' } });
    expect(nobody.status).toBe(422);
    expect(nobody.body.message).toContain(
      'spec.user: Invalid value: "": at least one of user or group must be specified',
    );
    const both = await review({
      user: 'x',
      resourceAttributes: {},
      nonResourceAttributes: { path: '/x', verb: 'get' },
    });
    expect(both.body.message).toContain('cannot be specified in combination with resourceAttributes');
    const nonResource = await review({ ...sa, nonResourceAttributes: { path: '/healthz', verb: 'get' } });
    expect(nonResource.body.status).toEqual({ allowed: false });
  });

  it('SelfSubjectAccessReview answers for the caller, and kubectl auth can-i (protobuf) works on it', async () => {
    // kubectl sends no bearer token over plain HTTP: this one runs on a TLS sandbox.
    const tls = await startSandbox({ name: 'can-i', loadCrds: false });
    const dir = mkdtempSync(join(tmpdir(), 'sandbox-can-i-'));
    try {
      tls.addToken('ns-reader', {
        username: 'ns-reader',
        rules: [{ verbs: ['list'], resources: ['services'], namespaces: ['default'] }],
      });
      const self = (namespace: string) =>
        call(
          tls,
          'POST',
          '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews',
          {
            kind: 'SelfSubjectAccessReview',
            spec: { resourceAttributes: { verb: 'list', resource: 'services', namespace } },
          },
          { token: 'ns-reader' },
        );
      expect((await self('default')).body.status.allowed).toBe(true);
      expect((await self('kube-system')).body.status.allowed).toBe(false);

      const kubeconfig = join(dir, 'kubeconfig');
      writeFileSync(kubeconfig, tls.kubeconfig({ token: 'ns-reader', user: 'ns-reader' }));
      const canI = kubectlWith(kubeconfig, dir);
      const yes = await canI('auth', 'can-i', 'list', 'services', '-n', 'default');
      expect({ code: yes.code, out: yes.stdout.trim(), err: yes.stderr }).toEqual({
        code: 0,
        out: 'yes',
        err: '',
      });
      const no = await canI('auth', 'can-i', 'list', 'services', '-n', 'kube-system');
      expect({ code: no.code, out: no.stdout.trim() }).toEqual({ code: 1, out: 'no' });
    } finally {
      await closeAgent(tls);
      await tls.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

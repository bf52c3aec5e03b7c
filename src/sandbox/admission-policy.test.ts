/**
 * ValidatingAdmissionPolicies enforced by a real sandbox over HTTP, as kube-apiserver enforces
 * them: kube's Status on denial (reason and code from the validation), Warn as a Warning header,
 * Audit invisible, failurePolicy on errors and on what the sandbox does not support, bindings and
 * policies taking effect as they come and go, and every write verb going through admission.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox } from './index.js';
import { startSandbox } from './index.js';
import { type ApiResponse, call, closeAgent, svc } from './test-support.js';

const VAP = '/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies';
const VAPB = '/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings';
const CM = '/api/v1/namespaces/default/configmaps';

let sb: Sandbox;
beforeAll(async () => {
  sb = await startSandbox({ name: 'vap', tls: false });
  sb.addToken('tenant', {
    username: 'tenant',
    groups: ['tenants'],
    rules: [{ verbs: ['*'], resources: ['configmaps', 'services', 'services/status'], apiGroups: [''] }],
  });
});
afterAll(async () => {
  await closeAgent(sb);
  await sb.close();
});

const ok = (r: ApiResponse, status = [200, 201]) => {
  if (!status.includes(r.status)) throw new Error(`${r.status}: ${JSON.stringify(r.body)}`);
  return r;
};

/** A policy on ConfigMaps (or `rules`) with these validations, and its binding. */
async function enforce(
  name: string,
  spec: Record<string, unknown>,
  binding: Record<string, unknown> = { validationActions: ['Deny'] },
): Promise<() => Promise<void>> {
  ok(
    await call(sb, 'POST', VAP, {
      metadata: { name },
      spec: {
        matchConstraints: {
          resourceRules: [
            { apiGroups: [''], apiVersions: ['v1'], operations: ['*'], resources: ['configmaps'] },
          ],
        },
        ...spec,
      },
    }),
  );
  ok(
    await call(sb, 'POST', VAPB, {
      metadata: { name: `${name}-binding` },
      spec: { policyName: name, ...binding },
    }),
  );
  return async () => {
    ok(await call(sb, 'DELETE', `${VAPB}/${name}-binding`));
    ok(await call(sb, 'DELETE', `${VAP}/${name}`));
  };
}

const cm = (name: string, data: Record<string, string> = {}) => ({ metadata: { name }, data });
const asTenant = { token: 'tenant' };

describe('a denying validation', () => {
  it("refuses with kube's Status: NewForbidden's wording, the validation's reason and code, the message as cause", async () => {
    const off = await enforce('no-secrets', {
      validations: [
        {
          expression: "!has(object.data) || !('password' in object.data)",
          message: 'no passwords here',
          reason: 'Forbidden',
        },
      ],
    });
    const r = await call(sb, 'POST', CM, cm('c1', { password: 'x' }), asTenant);
    const message =
      "configmaps \"c1\" is forbidden: ValidatingAdmissionPolicy 'no-secrets' with binding 'no-secrets-binding' denied request: no passwords here";
    expect(r.status).toBe(403);
    expect(r.body).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message,
      reason: 'Forbidden',
      details: {
        name: 'c1',
        kind: 'configmaps',
        causes: [
          {
            message:
              "ValidatingAdmissionPolicy 'no-secrets' with binding 'no-secrets-binding' denied request: no passwords here",
          },
        ],
      },
      code: 403,
    });
    ok(await call(sb, 'POST', CM, cm('c1', { user: 'x' }), asTenant));
    ok(await call(sb, 'DELETE', `${CM}/c1`));
    await off();
  });

  it('without a reason is Invalid (422); a generateName create is named by its prefix', async () => {
    const off = await enforce('never', { validations: [{ expression: 'false' }] });
    const r = await call(sb, 'POST', CM, { metadata: { generateName: 'gen-' } });
    expect(r.status).toBe(422);
    expect(r.body.reason).toBe('Invalid');
    expect(r.body.message).toMatch(
      /^configmaps "gen-[a-z0-9]*" is forbidden: .*denied request: failed expression: false$/,
    );
    await off();
  });
});

describe('validationActions', () => {
  it('Warn admits with a 299 Warning naming policy and binding; Audit admits silently', async () => {
    const offWarn = await enforce(
      'warn-only',
      { validations: [{ expression: 'false', message: 'just saying' }] },
      { validationActions: ['Warn'] },
    );
    const warned = ok(await call(sb, 'POST', CM, cm('w1')));
    expect(warned.headers.warning).toBe(
      `299 - "Validation failed for ValidatingAdmissionPolicy 'warn-only' with binding 'warn-only-binding': just saying"`,
    );
    await offWarn();
    const offAudit = await enforce(
      'audit-only',
      { validations: [{ expression: 'false' }] },
      { validationActions: ['Audit'] },
    );
    const audited = ok(await call(sb, 'PUT', `${CM}/w1`, cm('w1', { a: 'b' })));
    expect(audited.headers.warning).toBeUndefined();
    ok(await call(sb, 'DELETE', `${CM}/w1`));
    await offAudit();
  });
});

describe('errors and what the sandbox does not support', () => {
  it('an evaluation error denies under failurePolicy Fail and admits under Ignore', async () => {
    const off = await enforce('broken', { validations: [{ expression: 'object.data.missing == "x"' }] });
    const r = await call(sb, 'POST', CM, cm('e1', { other: 'y' }));
    expect(r.status).toBe(422);
    expect(r.body.message).toContain(
      'denied request: expression \'object.data.missing == "x"\' resulted in error:',
    );
    await off();
    const offIgnore = await enforce('broken-ignored', {
      failurePolicy: 'Ignore',
      validations: [{ expression: 'object.data.missing == "x"' }],
    });
    ok(await call(sb, 'POST', CM, cm('e1', { other: 'y' })));
    ok(await call(sb, 'DELETE', `${CM}/e1`));
    await offIgnore();
  });

  it('a policy with paramKind (its binding with paramRef) is refused, naming params', async () => {
    const off = await enforce(
      'with-params',
      { paramKind: { apiVersion: 'v1', kind: 'ConfigMap' }, validations: [{ expression: 'true' }] },
      {
        validationActions: ['Deny'],
        paramRef: { name: 'limits', namespace: 'default', parameterNotFoundAction: 'Deny' },
      },
    );
    const r = await call(sb, 'POST', CM, cm('p1'));
    expect(r.status).toBe(422);
    expect(r.body.message).toMatch(
      /denied request: failed to configure policy: params .* not supported by the sandbox$/,
    );
    await off();
  });

  it('authorizer in an expression is an error, never a silent pass', async () => {
    const off = await enforce('authz', {
      validations: [{ expression: "authorizer.group('').resource('configmaps').check('get').allowed()" }],
    });
    const r = await call(sb, 'POST', CM, cm('a1'));
    expect(r.status).toBe(422);
    expect(r.body.message).toContain(
      'compilation error: the authorizer variable is not supported by the sandbox',
    );
    await off();
  });
});

describe('policies and bindings as they come and go', () => {
  it('a binding whose policy does not exist does nothing until the policy appears; an edited policy is recompiled', async () => {
    ok(
      await call(sb, 'POST', VAPB, {
        metadata: { name: 'early' },
        spec: { policyName: 'late', validationActions: ['Deny'] },
      }),
    );
    ok(await call(sb, 'POST', CM, cm('l1')));
    const policy = {
      metadata: { name: 'late' },
      spec: {
        matchConstraints: {
          resourceRules: [
            { apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['configmaps'] },
          ],
        },
        validations: [{ expression: "object.metadata.name != 'l2'" }],
      },
    };
    const created = ok(await call(sb, 'POST', VAP, policy));
    expect((await call(sb, 'POST', CM, cm('l2'))).status).toBe(422);
    ok(
      await call(sb, 'PUT', `${VAP}/late`, {
        ...policy,
        metadata: { name: 'late', resourceVersion: created.body.metadata.resourceVersion },
        spec: { ...policy.spec, validations: [{ expression: "object.metadata.name != 'l3'" }] },
      }),
    );
    ok(await call(sb, 'POST', CM, cm('l2')));
    expect((await call(sb, 'POST', CM, cm('l3'))).status).toBe(422);
    ok(await call(sb, 'DELETE', `${VAPB}/early`));
    ok(await call(sb, 'POST', CM, cm('l3')));
    ok(await call(sb, 'DELETE', `${VAP}/late`));
  });

  it('a binding narrows its policy with matchResources (here a namespaceSelector)', async () => {
    ok(
      await call(sb, 'POST', '/api/v1/namespaces', {
        metadata: { name: 'guarded', labels: { guard: 'on' } },
      }),
    );
    const off = await enforce(
      'guard',
      { validations: [{ expression: 'false', message: 'guarded' }] },
      {
        validationActions: ['Deny'],
        matchResources: { namespaceSelector: { matchLabels: { guard: 'on' } } },
      },
    );
    expect((await call(sb, 'POST', '/api/v1/namespaces/guarded/configmaps', cm('g1'))).status).toBe(422);
    ok(await call(sb, 'POST', CM, cm('g1')));
    await off();
  });
});

describe('every write goes through admission', () => {
  it('PUT, merge/JSON/apply PATCH, DELETE, deletecollection (per object) and dryRun are all admitted', async () => {
    ok(await call(sb, 'POST', CM, cm('locked', { v: '1' })));
    ok(await call(sb, 'POST', CM, { metadata: { name: 'locked-2', labels: { lock: 'yes' } } }));
    const off = await enforce('frozen', {
      validations: [
        {
          expression: "request.operation == 'CREATE' || !(oldObject.metadata.name.startsWith('locked'))",
          messageExpression: "request.operation + ' of ' + oldObject.metadata.name + ' refused'",
          reason: 'Forbidden',
        },
      ],
    });
    const refused = async (r: Promise<ApiResponse>, what: string) => {
      const res = await r;
      expect(res.status, what).toBe(403);
      return res.body.message as string;
    };
    const current = ok(await call(sb, 'GET', `${CM}/locked`)).body;
    expect(await refused(call(sb, 'PUT', `${CM}/locked`, { ...current, data: { v: '2' } }), 'PUT')).toMatch(
      /denied request: UPDATE of locked refused$/,
    );
    await refused(
      call(
        sb,
        'PATCH',
        `${CM}/locked`,
        { data: { v: '3' } },
        { contentType: 'application/merge-patch+json' },
      ),
      'merge',
    );
    await refused(
      call(sb, 'PATCH', `${CM}/locked`, [{ op: 'add', path: '/data/w', value: 'x' }], {
        contentType: 'application/json-patch+json',
      }),
      'json patch',
    );
    await refused(
      call(
        sb,
        'PATCH',
        `${CM}/locked?fieldManager=t`,
        { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'locked' }, data: { v: '4' } },
        {
          contentType: 'application/apply-patch+yaml',
        },
      ),
      'apply',
    );
    await refused(
      call(sb, 'PUT', `${CM}/locked?dryRun=All`, { ...current, data: { v: '5' } }),
      'dry-run PUT',
    );
    expect(await refused(call(sb, 'DELETE', `${CM}/locked`), 'DELETE')).toMatch(/DELETE of locked refused$/);
    expect(await refused(call(sb, 'DELETE', `${CM}?labelSelector=lock%3Dyes`), 'deletecollection')).toContain(
      'configmaps "locked-2" is forbidden',
    );
    expect(ok(await call(sb, 'GET', `${CM}/locked`)).body.data).toEqual({ v: '1' });
    ok(await call(sb, 'GET', `${CM}/locked-2`));
    await off();
    ok(await call(sb, 'DELETE', `${CM}/locked`));
    ok(await call(sb, 'DELETE', `${CM}/locked-2`));
  });

  it('a subresource is matched by name: `services` rules leave services/status alone, `services/status` rules do not', async () => {
    const svcPath = '/api/v1/namespaces/default/services';
    ok(await call(sb, 'POST', svcPath, svc('web', { spec: { type: 'LoadBalancer' } })));
    const rules = (resources: string[]) => ({
      matchConstraints: {
        resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['UPDATE'], resources }],
      },
      validations: [{ expression: 'false', message: 'no' }],
    });
    const status = { status: { loadBalancer: { ingress: [{ ip: '192.0.2.1' }] } } };
    const patchStatus = () =>
      call(sb, 'PATCH', `${svcPath}/web/status`, status, {
        ...asTenant,
        contentType: 'application/merge-patch+json',
      });
    const offMain = await enforce('svc-main', rules(['services']));
    expect(
      (
        await call(
          sb,
          'PATCH',
          `${svcPath}/web`,
          { metadata: { labels: { a: 'b' } } },
          { contentType: 'application/merge-patch+json' },
        )
      ).status,
    ).toBe(422);
    ok(await patchStatus());
    await offMain();
    const offStatus = await enforce('svc-status', rules(['services/status']));
    expect((await patchStatus()).status).toBe(422);
    await offStatus();
    ok(await call(sb, 'DELETE', `${svcPath}/web`));
  });

  it("the garbage collector's deletes are admitted as system:serviceaccount:kube-system:generic-garbage-collector", async () => {
    const owner = ok(await call(sb, 'POST', CM, cm('owner'))).body;
    const ref = { apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.metadata.uid };
    ok(await call(sb, 'POST', CM, { metadata: { name: 'dependent', ownerReferences: [ref] } }));
    const off = await enforce('keep-dependents', {
      validations: [
        {
          expression:
            "request.operation != 'DELETE' || request.userInfo.username != 'system:serviceaccount:kube-system:generic-garbage-collector' || !('system:serviceaccounts:kube-system' in request.userInfo.groups)",
        },
      ],
    });
    // The collector runs synchronously after the owner's deletion: its refused delete has happened.
    ok(await call(sb, 'DELETE', `${CM}/owner`));
    ok(await call(sb, 'GET', `${CM}/dependent`));
    await off();
    ok(await call(sb, 'DELETE', `${CM}/dependent`));
  });

  it("the garbage collector's refused orphaning keeps the owner and its orphan finalizer, and is retried: the dependent is orphaned, never collected", async () => {
    const owner = ok(await call(sb, 'POST', CM, cm('orphaning-owner'))).body;
    const ref = { apiVersion: 'v1', kind: 'ConfigMap', name: 'orphaning-owner', uid: owner.metadata.uid };
    ok(await call(sb, 'POST', CM, { metadata: { name: 'orphan', ownerReferences: [ref] } }));
    const off = await enforce('gc-may-not-update', {
      validations: [
        {
          expression:
            "request.operation != 'UPDATE' || request.userInfo.username != 'system:serviceaccount:kube-system:generic-garbage-collector' || object.metadata.name != 'orphan'",
        },
      ],
    });
    ok(await call(sb, 'DELETE', `${CM}/orphaning-owner?propagationPolicy=Orphan`));
    // The collector's patch of the dependent was refused: the owner waits, as kube's GC retries.
    const waiting = ok(await call(sb, 'GET', `${CM}/orphaning-owner`)).body;
    expect(waiting.metadata.deletionTimestamp).toBeDefined();
    expect(waiting.metadata.finalizers).toEqual(['orphan']);
    expect(ok(await call(sb, 'GET', `${CM}/orphan`)).body.metadata.ownerReferences).toEqual([ref]);

    await off();
    // Retried once the refusal is gone: the owner goes, the dependent stays, without the reference.
    expect((await call(sb, 'GET', `${CM}/orphaning-owner`)).status).toBe(404);
    expect(ok(await call(sb, 'GET', `${CM}/orphan`)).body.metadata.ownerReferences).toBeUndefined();
    ok(await call(sb, 'DELETE', `${CM}/orphan`));
  });

  it('subresources are admitted with their own kind: deployments/scale a Scale, serviceaccounts/token a TokenRequest, pods/proxy a CONNECT', async () => {
    const deployments = '/apis/apps/v1/namespaces/default/deployments';
    ok(
      await call(sb, 'POST', deployments, {
        metadata: { name: 'web' },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: 'web' } },
          template: {
            metadata: { labels: { app: 'web' } },
            spec: { containers: [{ name: 'app', image: 'app:1' }] },
          },
        },
      }),
    );
    const rules = (group: string, resources: string[], operations: string[]) => ({
      matchConstraints: {
        resourceRules: [{ apiGroups: [group], apiVersions: ['v1'], operations, resources }],
      },
    });
    const offScale = await enforce('scale-cap', {
      ...rules('apps', ['deployments/scale'], ['UPDATE']),
      validations: [
        {
          expression:
            "request.kind.kind == 'Scale' && object.spec.replicas <= 5 && oldObject.spec.replicas == 1",
          message: 'at most 5',
          reason: 'Forbidden',
        },
      ],
    });
    const scale = (replicas: number) =>
      call(
        sb,
        'PATCH',
        `${deployments}/web/scale`,
        { spec: { replicas } },
        { contentType: 'application/merge-patch+json' },
      );
    const refused = await scale(9);
    expect(refused.status).toBe(403);
    expect(refused.body.message).toBe(
      `deployments.apps "web" is forbidden: ValidatingAdmissionPolicy 'scale-cap' with binding 'scale-cap-binding' denied request: at most 5`,
    );
    expect(ok(await scale(3)).body.spec).toEqual({ replicas: 3 });
    await offScale();

    const offToken = await enforce('no-tokens', {
      ...rules('', ['serviceaccounts/token'], ['CREATE']),
      validations: [
        { expression: "request.kind.kind != 'TokenRequest' || object.metadata.name != 'default'" },
      ],
    });
    const token = await call(sb, 'POST', '/api/v1/namespaces/default/serviceaccounts/default/token', {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: {},
    });
    expect(token.status).toBe(422);
    expect(token.body.message).toMatch(
      /^serviceaccounts "default" is forbidden: .*denied request: failed expression/,
    );
    await offToken();

    const offProxy = await enforce('no-proxy', {
      ...rules('', ['pods/proxy'], ['CONNECT']),
      validations: [
        { expression: "request.operation != 'CONNECT' || object.path != '/metrics'", message: 'no' },
      ],
    });
    const proxied = await call(sb, 'GET', '/api/v1/namespaces/default/pods/nowhere/proxy/metrics');
    expect(proxied.status).toBe(422);
    expect(proxied.body.message).toContain('pods "nowhere" is forbidden');
    await offProxy();
    ok(await call(sb, 'DELETE', `${deployments}/web`));
  });
});

/**
 * `isthmus install --admission-policy`: the objects it renders, and their CEL evaluated (by
 * @marcbachmann/cel-js, as kube-apiserver would: variables in order, then the validation) against
 * the requests the policy is for: the controller's own, a tenant's forgeries, the
 * kube-controller-manager's clean-up, and slices that are none of Isthmus's business.
 */
import { evaluate } from '@marcbachmann/cel-js';
import { describe, expect, it } from 'vitest';
import {
  MANAGED_BY_FAILOVER,
  MANAGED_BY_FEDERATION,
  MANAGED_BY_LABEL,
  MANAGED_BY_MIRROR,
} from '../../kube/keys.js';
import { validateBuiltin } from '../../sandbox/validation.js';
import {
  ADMISSION_POLICY_NAME,
  admissionPolicyExpressions,
  admissionPolicyManifests,
  ISTHMUS_MANAGERS,
} from './admission-policy.js';
import { INSTALL_FLAG_KINDS } from './install-flags.js';
import { installManifests } from './render.js';
import { testInstallOptions } from './test-options.js';

interface Policy {
  kind: string;
  metadata: { name: string; namespace?: string; labels: Record<string, string> };
  spec: {
    failurePolicy: string;
    matchConstraints: {
      objectSelector: { matchExpressions: { key: string; operator: string; values: string[] }[] };
      resourceRules: { apiGroups: string[]; operations: string[]; resources: string[] }[];
    };
    variables: { name: string; expression: string }[];
    validations: { expression: string; messageExpression: string; message: string; reason: string }[];
  };
}
interface Binding {
  kind: string;
  metadata: { name: string };
  spec: { policyName: string; validationActions: string[] };
}

const CONTROLLER = 'system:serviceaccount:isthmus-system:isthmus-controller';
const TENANT = 'system:serviceaccount:shop:deployer';
const GC = 'system:serviceaccount:kube-system:generic-garbage-collector';
const NAMESPACE_CONTROLLER = 'system:serviceaccount:kube-system:namespace-controller';
const KCM = 'system:kube-controller-manager';

const slice = (managedBy?: string) => ({
  apiVersion: 'discovery.k8s.io/v1',
  kind: 'EndpointSlice',
  metadata: {
    name: 'podinfo-x1',
    namespace: 'shop',
    ...(managedBy
      ? { labels: { [MANAGED_BY_LABEL]: managedBy, 'kubernetes.io/service-name': 'podinfo' } }
      : {}),
  },
  addressType: 'IPv4',
  endpoints: [{ addresses: ['10.0.0.9'] }],
});

type Operation = 'CREATE' | 'UPDATE' | 'DELETE';
interface Request {
  operation: Operation;
  username: string;
  object: object | null;
  oldObject: object | null;
}

/** Whether kube-apiserver's objectSelector sends the request to the policy at all (old or new matches). */
function selected(p: Policy, r: Request): boolean {
  const [m] = p.spec.matchConstraints.objectSelector.matchExpressions;
  const labelOf = (o: object | null) =>
    (o as { metadata?: { labels?: Record<string, string> } } | null)?.metadata?.labels?.[m!.key];
  return [r.object, r.oldObject].some((o) => {
    const v = labelOf(o);
    return v !== undefined && m!.values.includes(v);
  });
}

/** The CEL's verdict: undefined when admitted, else the message kube-apiserver would return. */
function celVerdict(p: Policy, r: Request): string | undefined {
  const ctx: Record<string, unknown> = {
    object: r.object,
    oldObject: r.oldObject,
    request: { operation: r.operation, userInfo: { username: r.username } },
  };
  const variables: Record<string, unknown> = {};
  for (const v of p.spec.variables) variables[v.name] = evaluate(v.expression, { ...ctx, variables });
  for (const v of p.spec.validations) {
    if (evaluate(v.expression, { ...ctx, variables }) !== true)
      return evaluate(v.messageExpression, { ...ctx, variables }) as string;
  }
  return undefined;
}

/** The policy's verdict on a request: only what its objectSelector selects reaches the CEL. */
const admit = (p: Policy, r: Request) => (selected(p, r) ? celVerdict(p, r) : undefined);

const [policy, binding] = admissionPolicyManifests(testInstallOptions({ admissionPolicy: true })) as [
  Policy,
  Binding,
];

describe('isthmus install --admission-policy', () => {
  it('is an install flag, and renders the policy and its binding only when given', () => {
    expect(INSTALL_FLAG_KINDS.get('admission-policy')).toBe('switch');
    expect(admissionPolicyManifests(testInstallOptions())).toEqual([]);
    const kinds = (o: object[]) => (o as { kind: string }[]).map((x) => x.kind);
    expect(kinds(installManifests(testInstallOptions()))).not.toContain('ValidatingAdmissionPolicy');
    const withPolicy = installManifests(testInstallOptions({ admissionPolicy: true }));
    expect(kinds(withPolicy).filter((k) => k.startsWith('ValidatingAdmissionPolicy'))).toEqual([
      'ValidatingAdmissionPolicy',
      'ValidatingAdmissionPolicyBinding',
    ]);
  });

  it('denies on failure, matches every write of endpointslices, and binds the policy with Deny', () => {
    expect(policy.metadata).toEqual({
      name: ADMISSION_POLICY_NAME,
      labels: { 'app.kubernetes.io/part-of': 'isthmus' },
    });
    expect(policy.spec.failurePolicy).toBe('Fail');
    expect(policy.spec.matchConstraints.resourceRules).toEqual([
      {
        apiGroups: ['discovery.k8s.io'],
        apiVersions: ['*'],
        operations: ['CREATE', 'UPDATE', 'DELETE'],
        resources: ['endpointslices'],
        scope: '*',
      },
    ]);
    expect(policy.spec.matchConstraints.objectSelector.matchExpressions).toEqual([
      {
        key: MANAGED_BY_LABEL,
        operator: 'In',
        values: [MANAGED_BY_MIRROR, MANAGED_BY_FAILOVER, MANAGED_BY_FEDERATION],
      },
    ]);
    expect(policy.spec.validations[0]!.reason).toBe('Forbidden');
    expect(policy.spec.validations[0]!.message).toContain(CONTROLLER);
    expect(binding).toEqual({
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata: { name: ADMISSION_POLICY_NAME, labels: { 'app.kubernetes.io/part-of': 'isthmus' } },
      spec: { policyName: ADMISSION_POLICY_NAME, validationActions: ['Deny'] },
    });
  });

  it("passes the sandbox's validation of both kinds (kube-apiserver's required fields)", () => {
    const opts = { allowLoopbackEndpoints: false };
    expect(
      validateBuiltin('admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy', policy, undefined, opts),
    ).toEqual([]);
    expect(
      validateBuiltin(
        'admissionregistration.k8s.io/v1/ValidatingAdmissionPolicyBinding',
        binding,
        undefined,
        opts,
      ),
    ).toEqual([]);
  });

  it('names the install namespace’s controller', () => {
    const { validation } = admissionPolicyExpressions('other-ns');
    expect(validation.expression).toContain("'system:serviceaccount:other-ns:isthmus-controller'");
  });

  const mirror = slice(MANAGED_BY_MIRROR);
  const cases: [string, Request, boolean][] = [
    [
      'the controller creates a mirror slice',
      { operation: 'CREATE', username: CONTROLLER, object: mirror, oldObject: null },
      true,
    ],
    [
      'the controller updates one',
      { operation: 'UPDATE', username: CONTROLLER, object: mirror, oldObject: mirror },
      true,
    ],
    [
      'the controller deletes one',
      { operation: 'DELETE', username: CONTROLLER, object: null, oldObject: mirror },
      true,
    ],
    [
      'a tenant creates a forged mirror slice',
      { operation: 'CREATE', username: TENANT, object: mirror, oldObject: null },
      false,
    ],
    ...ISTHMUS_MANAGERS.map((m): [string, Request, boolean] => [
      `a tenant creates a slice managed by ${m}`,
      { operation: 'CREATE', username: TENANT, object: slice(m), oldObject: null },
      false,
    ]),
    [
      'a tenant edits a mirror slice, keeping the label',
      { operation: 'UPDATE', username: TENANT, object: mirror, oldObject: mirror },
      false,
    ],
    [
      "a tenant relabels the controller's slice as its own (oldObject carries ours)",
      { operation: 'UPDATE', username: TENANT, object: slice('tenant.example.com'), oldObject: mirror },
      false,
    ],
    [
      'a tenant removes the label from a mirror slice',
      { operation: 'UPDATE', username: TENANT, object: slice(), oldObject: mirror },
      false,
    ],
    [
      'a tenant labels its own slice as a mirror',
      { operation: 'UPDATE', username: TENANT, object: mirror, oldObject: slice() },
      false,
    ],
    [
      'a tenant deletes a mirror slice',
      { operation: 'DELETE', username: TENANT, object: null, oldObject: mirror },
      false,
    ],
    [
      'the garbage collector deletes one',
      { operation: 'DELETE', username: GC, object: null, oldObject: mirror },
      true,
    ],
    [
      'the namespace controller deletes one',
      { operation: 'DELETE', username: NAMESPACE_CONTROLLER, object: null, oldObject: mirror },
      true,
    ],
    [
      'the controller manager without per-controller accounts deletes one',
      { operation: 'DELETE', username: KCM, object: null, oldObject: mirror },
      true,
    ],
    [
      'the garbage collector may not create one',
      { operation: 'CREATE', username: GC, object: mirror, oldObject: null },
      false,
    ],
    [
      'the garbage collector orphans one (an update that keeps its manager: --cascade=orphan)',
      { operation: 'UPDATE', username: GC, object: mirror, oldObject: mirror },
      true,
    ],
    [
      'nor relabel one away',
      { operation: 'UPDATE', username: NAMESPACE_CONTROLLER, object: slice(), oldObject: mirror },
      false,
    ],
    [
      'nor give a slice of its own an Isthmus manager',
      { operation: 'UPDATE', username: GC, object: mirror, oldObject: slice() },
      false,
    ],
    [
      "another namespace's isthmus-controller may not write one",
      {
        operation: 'CREATE',
        username: 'system:serviceaccount:shop:isthmus-controller',
        object: mirror,
        oldObject: null,
      },
      false,
    ],
    [
      "a tenant's own unlabelled slice",
      { operation: 'CREATE', username: TENANT, object: slice(), oldObject: null },
      true,
    ],
    [
      'a slice of another manager (the EndpointSlice controller)',
      {
        operation: 'CREATE',
        username: TENANT,
        object: slice('endpointslice-controller.k8s.io'),
        oldObject: null,
      },
      true,
    ],
    [
      'a look-alike value',
      {
        operation: 'UPDATE',
        username: TENANT,
        object: slice('mirror.isthmus.dev.example'),
        oldObject: slice('x.isthmus.dev'),
      },
      true,
    ],
  ];

  it.each(cases)('%s: admitted %s', (_, request, admitted) => {
    const verdict = admit(policy, request);
    expect(verdict === undefined).toBe(admitted);
  });

  it.each(cases)('%s, by the CEL alone (no objectSelector in front): admitted %s', (_, request, admitted) => {
    expect(celVerdict(policy, request) === undefined).toBe(admitted);
  });

  it('tells the refused requester what it may not do and who may', () => {
    const message = admit(policy, {
      operation: 'UPDATE',
      username: TENANT,
      object: slice('tenant.example.com'),
      oldObject: slice(MANAGED_BY_FAILOVER),
    });
    expect(message).toBe(
      `EndpointSlices managed by failover.isthmus.dev are written by ${CONTROLLER} only (the gateway trusts them as its word): ${TENANT} may not UPDATE one`,
    );
  });
});

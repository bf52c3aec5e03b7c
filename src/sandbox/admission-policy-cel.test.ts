/**
 * A policy's CEL as kube-apiserver's validator evaluates it: the activation (object, oldObject,
 * request, namespaceObject, variables), matchConditions, validation messages and reasons, errors
 * under failurePolicy, and what the sandbox refuses to pretend it evaluates (params, authorizer).
 */
import { describe, expect, it } from 'vitest';
import {
  activationFor,
  auditAnnotationErrors,
  celValue,
  compileExpression,
  compilePolicy,
  evaluateMatchConditions,
  evaluateValidations,
} from './admission-policy-cel.js';
import type { AdmissionAttributes } from './admission-policy-match.js';
import type { KObj } from './store.js';

const deployment = (replicas: number): KObj => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web', namespace: 'shop', labels: { app: 'web' } },
  spec: { replicas },
});

function attrs(over: Partial<AdmissionAttributes> = {}): AdmissionAttributes {
  return {
    operation: 'CREATE',
    resource: { group: 'apps', version: 'v1', resource: 'deployments' },
    subresource: '',
    kind: { group: 'apps', version: 'v1', kind: 'Deployment' },
    servedVersions: ['v1'],
    name: 'web',
    namespace: 'shop',
    object: deployment(3),
    oldObject: null,
    userInfo: { username: 'alice', uid: 'u-1', groups: ['devs', 'system:authenticated'] },
    dryRun: false,
    ...over,
  };
}

function policy(spec: Record<string, unknown>): ReturnType<typeof compilePolicy> {
  return compilePolicy({ metadata: { name: 'p', uid: 'x', generation: 1 }, spec });
}

function decide(spec: Record<string, unknown>, a = attrs(), ns: KObj | null = null) {
  const p = policy(spec);
  const activation = activationFor(p, a, ns);
  const match = evaluateMatchConditions(p, activation);
  return { match, decisions: match.matches ? evaluateValidations(p, activation) : [] };
}

const one = (expression: string, extra: Record<string, unknown> = {}) => ({
  validations: [{ expression, ...extra }],
});

describe('the activation', () => {
  it('has object (null on DELETE), oldObject (null on CREATE), request and namespaceObject', () => {
    expect(decide(one('object.spec.replicas == 3 && oldObject == null')).decisions[0]!.action).toBe('admit');
    const del = attrs({ operation: 'DELETE', object: null, oldObject: deployment(1) });
    expect(decide(one('object == null && oldObject.spec.replicas == 1'), del).decisions[0]!.action).toBe(
      'admit',
    );
    const request =
      "request.operation == 'CREATE' && request.userInfo.username == 'alice' && 'devs' in request.userInfo.groups" +
      " && request.userInfo.uid == 'u-1' && request.name == 'web' && request.namespace == 'shop'" +
      " && request.kind.kind == 'Deployment' && request.resource.resource == 'deployments'" +
      " && request.subResource == '' && request.dryRun == false";
    expect(decide(one(request)).decisions[0]!.action).toBe('admit');
    const ns: KObj = { metadata: { name: 'shop', labels: { tier: 'gold' } }, spec: {}, status: {} };
    expect(
      decide(one("namespaceObject.metadata.labels.tier == 'gold'"), attrs(), ns).decisions[0]!.action,
    ).toBe('admit');
    expect(decide(one('namespaceObject == null')).decisions[0]!.action).toBe('admit');
  });

  it('reads JSON integers as CEL ints, so arithmetic on them type-checks as in kube', () => {
    expect(celValue({ a: 3, b: 1.5, c: [1] })).toEqual({ a: 3n, b: 1.5, c: [1n] });
    expect(decide(one('object.spec.replicas + 1 <= 4')).decisions[0]!.action).toBe('admit');
  });

  it('evaluates variables in order, each once, and later ones see earlier ones', () => {
    const spec = {
      variables: [
        { name: 'r', expression: 'object.spec.replicas' },
        { name: 'big', expression: 'variables.r > 2' },
      ],
      validations: [{ expression: '!variables.big', message: 'too many' }],
    };
    expect(decide(spec).decisions[0]).toMatchObject({ action: 'deny', message: 'too many' });
    expect(decide(spec, attrs({ object: deployment(1) })).decisions[0]!.action).toBe('admit');
  });
});

describe('validations', () => {
  it('a false expression denies with messageExpression, else message, else "failed expression: <expr>"', () => {
    const m = (extra: Record<string, unknown>) =>
      decide(one('object.spec.replicas < 2', extra)).decisions[0]!;
    expect(
      m({ messageExpression: "'wants ' + string(object.spec.replicas)", message: 'static' }).message,
    ).toBe('wants 3');
    expect(m({ messageExpression: "'  '", message: 'static' }).message).toBe('static');
    expect(m({ messageExpression: "'a\\nb'", message: 'static' }).message).toBe('static');
    expect(m({ messageExpression: 'object.nope', message: 'static' }).message).toBe('static');
    expect(m({}).message).toBe('failed expression: object.spec.replicas < 2');
  });

  it('carries the reason, Invalid when unset', () => {
    expect(decide(one('false')).decisions[0]!.reason).toBe('Invalid');
    expect(decide(one('false', { reason: 'Forbidden' })).decisions[0]!.reason).toBe('Forbidden');
  });

  it('an evaluation error is a failure under failurePolicy Fail (default) and passes under Ignore', () => {
    const failing = decide(one('object.spec.nope == 1')).decisions[0]!;
    expect(failing).toMatchObject({ action: 'deny', error: true });
    expect(failing.message).toMatch(/^expression 'object.spec.nope == 1' resulted in error: /);
    const ignored = decide({ failurePolicy: 'Ignore', ...one('object.spec.nope == 1') }).decisions[0]!;
    expect(ignored).toMatchObject({ action: 'admit', error: true });
    expect(decide(one('1 +')).decisions[0]!.message).toMatch(/^compilation error: /);
    expect(decide(one("'not a bool'")).decisions[0]).toMatchObject({ action: 'deny', error: true });
  });

  it('params and authorizer are not evaluated: using them is an error naming the feature', () => {
    expect(compileExpression('params.max > 1').error).toMatch(/params .* not supported by the sandbox/);
    expect(compileExpression("authorizer.group('').resource('x').check('get').allowed()").error).toMatch(
      /authorizer variable is not supported by the sandbox/,
    );
    expect(
      policy({ paramKind: { apiVersion: 'v1', kind: 'ConfigMap' }, validations: [] }).unsupported,
    ).toMatch(/not supported by the sandbox/);
  });
});

describe('matchConditions', () => {
  const conditions = (...expressions: string[]) =>
    expressions.map((expression, i) => ({ name: `c${i}`, expression }));

  it('all true: the validations run; any false: the policy does not apply', () => {
    expect(decide({ matchConditions: conditions('true', 'true'), ...one('false') }).decisions).toHaveLength(
      1,
    );
    expect(decide({ matchConditions: conditions('true', 'false'), ...one('false') })).toEqual({
      match: { matches: false },
      decisions: [],
    });
  });

  it('a false condition wins over an error; an error alone goes to the failurePolicy', () => {
    expect(decide({ matchConditions: conditions('object.x == 1', 'false'), ...one('false') }).match).toEqual({
      matches: false,
    });
    const failing = decide({ matchConditions: conditions('object.x == 1'), ...one('true') }).match;
    expect(failing.error).toMatch(/resulted in error/);
    const ignored = decide({
      failurePolicy: 'Ignore',
      matchConditions: conditions('object.x == 1'),
      ...one('false'),
    });
    expect(ignored).toEqual({ match: { matches: false }, decisions: [] });
  });
});

describe('auditAnnotations', () => {
  it('are not published (no audit log), but their errors count under Fail and not under Ignore', () => {
    const spec = (failurePolicy: string) => ({
      failurePolicy,
      validations: [],
      auditAnnotations: [
        { key: 'ok', valueExpression: "'fine'" },
        { key: 'null', valueExpression: 'null' },
        { key: 'bad', valueExpression: 'object.nope' },
        { key: 'int', valueExpression: '1' },
      ],
    });
    const errors = (p: ReturnType<typeof policy>) =>
      auditAnnotationErrors(p, activationFor(p, attrs(), null));
    const failing = errors(policy(spec('Fail')));
    expect(failing).toHaveLength(2);
    expect(failing[0]).toMatch(/^expression 'object.nope' resulted in error/);
    expect(failing[1]).toMatch(/^valueExpression '1' resulted in unsupported return type/);
    expect(errors(policy(spec('Ignore')))).toEqual([]);
  });
});

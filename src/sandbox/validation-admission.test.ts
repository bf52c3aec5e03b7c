import { describe, expect, it } from 'vitest';
import type { StatusCause } from '../kube/validation/field-errors.js';
import { applyDefaults } from './kind-defaults.js';
import { validateBuiltin } from './validation.js';

const POLICY = 'admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy';
const BINDING = 'admissionregistration.k8s.io/v1/ValidatingAdmissionPolicyBinding';
const check = (gvk: string, obj: unknown): StatusCause[] =>
  validateBuiltin(gvk, obj, undefined, { allowLoopbackEndpoints: false });

const rule = {
  apiGroups: ['discovery.k8s.io'],
  apiVersions: ['*'],
  operations: ['CREATE', 'UPDATE', 'DELETE'],
  resources: ['endpointslices'],
};
const policy = (spec: Record<string, unknown>) => {
  const obj = {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicy',
    metadata: { name: 'p' },
    spec: {
      matchConstraints: { resourceRules: [rule] },
      validations: [{ expression: 'true' }],
      ...spec,
    },
  };
  applyDefaults(POLICY, obj);
  return obj;
};
const binding = (spec: Record<string, unknown>) => ({
  apiVersion: 'admissionregistration.k8s.io/v1',
  kind: 'ValidatingAdmissionPolicyBinding',
  metadata: { name: 'b' },
  spec,
});

describe('ValidatingAdmissionPolicy', () => {
  it('defaults as kube-apiserver does: failurePolicy Fail, matchPolicy Equivalent, empty selectors, scope *', () => {
    expect(policy({}).spec).toEqual({
      failurePolicy: 'Fail',
      matchConstraints: {
        matchPolicy: 'Equivalent',
        namespaceSelector: {},
        objectSelector: {},
        resourceRules: [{ ...rule, scope: '*' }],
      },
      validations: [{ expression: 'true' }],
    });
    expect(check(POLICY, policy({}))).toEqual([]);
  });

  it.each<[string, Record<string, unknown>, Partial<StatusCause>[]]>([
    [
      'no validations',
      { validations: [] },
      [
        {
          field: 'spec.validations',
          message: 'Required value: validations or auditAnnotations must contain at least one item',
        },
      ],
    ],
    [
      'a validation without expression',
      { validations: [{ message: 'no' }] },
      [{ field: 'spec.validations[0].expression', message: 'Required value: expression is not specified' }],
    ],
    [
      'a blank expression',
      { validations: [{ expression: '  ' }] },
      [{ field: 'spec.validations[0].expression', reason: 'FieldValueRequired' }],
    ],
    [
      'a message with a line break',
      { validations: [{ expression: 'true', message: 'a\nb' }] },
      [
        {
          field: 'spec.validations[0].message',
          message: 'Invalid value: "a\\nb": message must not contain line breaks',
        },
      ],
    ],
    [
      'an unknown reason',
      { validations: [{ expression: 'true', reason: 'Nope' }] },
      [{ field: 'spec.validations[0].reason', reason: 'FieldValueNotSupported' }],
    ],
    [
      'no matchConstraints',
      { matchConstraints: undefined },
      [{ field: 'spec.matchConstraints', reason: 'FieldValueRequired' }],
    ],
    [
      'no resourceRules',
      { matchConstraints: {} },
      [{ field: 'spec.matchConstraints.resourceRules', reason: 'FieldValueRequired' }],
    ],
    [
      'a rule without operations',
      { matchConstraints: { resourceRules: [{ ...rule, operations: [] }] } },
      [{ field: 'spec.matchConstraints.resourceRules[0].operations', reason: 'FieldValueRequired' }],
    ],
    [
      'an unknown operation',
      { matchConstraints: { resourceRules: [{ ...rule, operations: ['PATCH'] }] } },
      [{ field: 'spec.matchConstraints.resourceRules[0].operations[0]', reason: 'FieldValueNotSupported' }],
    ],
    [
      'a rule without resources',
      { matchConstraints: { resourceRules: [{ ...rule, resources: [] }] } },
      [{ field: 'spec.matchConstraints.resourceRules[0].resources', reason: 'FieldValueRequired' }],
    ],
    [
      'a rule without apiGroups',
      { matchConstraints: { resourceRules: [{ ...rule, apiGroups: [] }] } },
      [{ field: 'spec.matchConstraints.resourceRules[0].apiGroups', reason: 'FieldValueRequired' }],
    ],
    [
      'an unknown failurePolicy',
      { failurePolicy: 'Never' },
      [{ field: 'spec.failurePolicy', reason: 'FieldValueNotSupported' }],
    ],
    [
      'a variable that is no CEL identifier',
      { variables: [{ name: 'a-b', expression: '1' }] },
      [
        {
          field: 'spec.variables[0].name',
          message: 'Invalid value: "a-b": name is not a valid CEL identifier',
        },
      ],
    ],
    [
      'a variable without expression',
      { variables: [{ name: 'a' }] },
      [{ field: 'spec.variables[0].expression', reason: 'FieldValueRequired' }],
    ],
  ])('refuses %s', (_, spec, causes) => {
    expect(check(POLICY, policy(spec))).toEqual(causes.map((c) => expect.objectContaining(c)));
  });
});

describe('ValidatingAdmissionPolicyBinding', () => {
  it('accepts a policy name and Deny', () => {
    expect(check(BINDING, binding({ policyName: 'p', validationActions: ['Deny'] }))).toEqual([]);
    expect(check(BINDING, binding({ policyName: 'p', validationActions: ['Warn', 'Audit'] }))).toEqual([]);
  });

  it.each<[string, Record<string, unknown>, Partial<StatusCause>[]]>([
    [
      'no policyName',
      { validationActions: ['Deny'] },
      [{ field: 'spec.policyName', reason: 'FieldValueRequired' }],
    ],
    [
      'a policyName that is no name',
      { policyName: 'A_B', validationActions: ['Deny'] },
      [{ field: 'spec.policyName', reason: 'FieldValueInvalid' }],
    ],
    [
      'no validationActions',
      { policyName: 'p' },
      [
        {
          field: 'spec.validationActions',
          message: 'Required value: at least one validation action is required',
        },
      ],
    ],
    [
      'an unknown action',
      { policyName: 'p', validationActions: ['Block'] },
      [
        {
          field: 'spec.validationActions[0]',
          message: 'Unsupported value: "Block": supported values: "Audit", "Deny", "Warn"',
        },
      ],
    ],
    [
      'a repeated action',
      { policyName: 'p', validationActions: ['Deny', 'Deny'] },
      [{ field: 'spec.validationActions[1]', reason: 'FieldValueDuplicate' }],
    ],
    [
      'Deny with Warn',
      { policyName: 'p', validationActions: ['Deny', 'Warn'] },
      [{ field: 'spec.validationActions', reason: 'FieldValueInvalid' }],
    ],
  ])('refuses %s', (_, spec, causes) => {
    expect(check(BINDING, binding(spec))).toEqual(causes.map((c) => expect.objectContaining(c)));
  });
});

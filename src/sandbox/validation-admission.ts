/**
 * admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy and ValidatingAdmissionPolicyBinding
 * (`pkg/apis/admissionregistration/validation`, validateValidatingAdmissionPolicySpec and
 * validateValidatingAdmissionPolicyBindingSpec): the required fields and enumerations, messages as
 * kube words them. No CEL is compiled here, so an expression is only checked for being there
 * (kube-apiserver also compiles it and refuses one that does not compile); admission-policy.ts
 * enforces the stored objects, where such an expression errs under the policy's failurePolicy.
 */
import {
  child,
  duplicate,
  index,
  invalid,
  notSupported,
  required,
  type StatusCause,
} from '../kube/validation/field-errors.js';
import { isRecord } from '../kube/validation/json-values.js';
import { validateLabelSelector } from '../kube/validation/meta.js';
import { isDNS1123Subdomain } from '../kube/validation/strings.js';

const FAILURE_POLICIES = ['Fail', 'Ignore'];
const OPERATIONS = ['*', 'CONNECT', 'CREATE', 'DELETE', 'UPDATE'];
const SCOPES = ['*', 'Cluster', 'Namespaced'];
const MATCH_POLICIES = ['Equivalent', 'Exact'];
const REASONS = ['Forbidden', 'Invalid', 'RequestEntityTooLarge', 'Unauthorized'];
const ACTIONS = ['Audit', 'Deny', 'Warn'];
/** CEL's reserved words, which no variable may be named (isCELIdentifier). */
const CEL_RESERVED = new Set([
  'true',
  'false',
  'null',
  'in',
  'as',
  'break',
  'const',
  'continue',
  'else',
  'for',
  'function',
  'if',
  'import',
  'let',
  'loop',
  'package',
  'namespace',
  'return',
  'var',
  'void',
  'while',
]);

const strings = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : []);
const blank = (v: unknown) => typeof v !== 'string' || v.trim() === '';

/** validateRule's list: required, and `*` alone when present. */
function ruleList(rule: Record<string, unknown>, key: string, path: string, what: string): StatusCause[] {
  const values = strings(rule[key]);
  const field = child(path, key);
  if (values.length === 0) return [required(field)];
  if (values.length > 1 && values.includes('*'))
    return [invalid(field, values, `if '*' is present, must not specify other ${what}`)];
  return [];
}

/** validateNamedRuleWithOperations: operations, groups, versions, resources, scope. */
function validateRule(rule: unknown, path: string): StatusCause[] {
  if (!isRecord(rule)) return [required(path)];
  const out: StatusCause[] = [];
  const operations = strings(rule.operations);
  if (operations.length === 0) out.push(required(child(path, 'operations')));
  operations.forEach((op, i) => {
    if (!OPERATIONS.includes(op)) out.push(notSupported(index(child(path, 'operations'), i), op, OPERATIONS));
  });
  if (operations.length > 1 && operations.includes('*'))
    out.push(
      invalid(child(path, 'operations'), operations, "if '*' is present, must not specify other operations"),
    );
  out.push(...ruleList(rule, 'apiGroups', path, 'API groups'));
  out.push(...ruleList(rule, 'apiVersions', path, 'API versions'));
  strings(rule.apiVersions).forEach((v, i) => {
    if (v === '') out.push(required(index(child(path, 'apiVersions'), i)));
  });
  out.push(...ruleList(rule, 'resources', path, 'resources'));
  if (rule.scope !== undefined && !SCOPES.includes(String(rule.scope)))
    out.push(notSupported(child(path, 'scope'), rule.scope, SCOPES));
  return out;
}

/** validateMatchResources: the selectors, matchPolicy and every (exclude) rule. */
function validateMatchResources(mr: Record<string, unknown>, path: string): StatusCause[] {
  const out: StatusCause[] = [];
  if (mr.matchPolicy !== undefined && !MATCH_POLICIES.includes(String(mr.matchPolicy)))
    out.push(notSupported(child(path, 'matchPolicy'), mr.matchPolicy, MATCH_POLICIES));
  for (const key of ['namespaceSelector', 'objectSelector']) {
    if (mr[key] !== undefined) out.push(...validateLabelSelector(mr[key], child(path, key)));
  }
  for (const key of ['resourceRules', 'excludeResourceRules']) {
    const rules = Array.isArray(mr[key]) ? (mr[key] as unknown[]) : [];
    rules.forEach((r, i) => {
      out.push(...validateRule(r, index(child(path, key), i)));
    });
  }
  return out;
}

/** validateValidation: an expression; a message, if any, on one line; a known reason. */
function validateValidation(v: unknown, path: string): StatusCause[] {
  if (!isRecord(v)) return [required(child(path, 'expression'), 'expression is not specified')];
  const out: StatusCause[] = [];
  const expression = typeof v.expression === 'string' ? v.expression.trim() : '';
  if (expression === '') out.push(required(child(path, 'expression'), 'expression is not specified'));
  const message = typeof v.message === 'string' ? v.message : '';
  if (typeof v.messageExpression === 'string' && v.messageExpression.length > 0 && blank(v.messageExpression))
    out.push(
      invalid(child(path, 'messageExpression'), v.messageExpression, 'must be non-empty if specified'),
    );
  if (message.length > 0 && message.trim() === '')
    out.push(invalid(child(path, 'message'), message, 'message must be non-empty if specified'));
  else if (/[\n\r]/.test(message.trim()))
    out.push(invalid(child(path, 'message'), message, 'message must not contain line breaks'));
  else if (/[\n\r]/.test(expression) && message.trim() === '')
    out.push(
      required(child(path, 'message'), 'message must be specified if expression contains line breaks'),
    );
  if (v.reason !== undefined && !REASONS.includes(String(v.reason)))
    out.push(notSupported(child(path, 'reason'), v.reason, REASONS));
  return out;
}

/** validateVariable: a CEL identifier for a name, and an expression. */
function validateVariable(v: unknown, path: string): StatusCause[] {
  const variable = isRecord(v) ? v : {};
  const out: StatusCause[] = [];
  if (blank(variable.name)) out.push(required(child(path, 'name'), 'name is not specified'));
  else if (!/^[_a-zA-Z][_a-zA-Z0-9]*$/.test(String(variable.name)) || CEL_RESERVED.has(String(variable.name)))
    out.push(invalid(child(path, 'name'), variable.name, 'name is not a valid CEL identifier'));
  if (blank(variable.expression))
    out.push(required(child(path, 'expression'), 'expression is not specified'));
  return out;
}

export function validateValidatingAdmissionPolicy(obj: unknown): StatusCause[] {
  const spec = isRecord(obj) && isRecord(obj.spec) ? obj.spec : {};
  const out: StatusCause[] = [];
  if (spec.failurePolicy === undefined) out.push(required('spec.failurePolicy'));
  else if (!FAILURE_POLICIES.includes(String(spec.failurePolicy)))
    out.push(notSupported('spec.failurePolicy', spec.failurePolicy, FAILURE_POLICIES));
  if (!isRecord(spec.matchConstraints)) out.push(required('spec.matchConstraints'));
  else {
    out.push(...validateMatchResources(spec.matchConstraints, 'spec.matchConstraints'));
    // At least one resource rule, to give the expressions their types.
    const rules = spec.matchConstraints.resourceRules;
    if (!Array.isArray(rules) || rules.length === 0)
      out.push(required('spec.matchConstraints.resourceRules'));
  }
  const validations = Array.isArray(spec.validations) ? spec.validations : [];
  const audits = Array.isArray(spec.auditAnnotations) ? spec.auditAnnotations : [];
  if (validations.length === 0 && audits.length === 0)
    out.push(required('spec.validations', 'validations or auditAnnotations must contain at least one item'));
  validations.forEach((v, i) => {
    out.push(...validateValidation(v, index('spec.validations', i)));
  });
  (Array.isArray(spec.variables) ? spec.variables : []).forEach((v, i) => {
    out.push(...validateVariable(v, index('spec.variables', i)));
  });
  return out;
}

/** validateValidationActions: known, once each, Deny and Warn not both, at least one. */
function validateValidationActions(actions: unknown, path: string): StatusCause[] {
  const list = strings(actions);
  const out: StatusCause[] = [];
  const seen = new Set<string>();
  list.forEach((a, i) => {
    if (!ACTIONS.includes(a)) out.push(notSupported(index(path, i), a, ACTIONS));
    if (seen.has(a)) out.push(duplicate(index(path, i), a));
    seen.add(a);
  });
  if (seen.has('Deny') && seen.has('Warn')) {
    out.push(
      invalid(
        path,
        list,
        'must not contain both Deny and Warn (repeating the same validation failure information in the API response and headers serves no purpose)',
      ),
    );
  }
  if (seen.size === 0) out.push(required(path, 'at least one validation action is required'));
  return out;
}

export function validateValidatingAdmissionPolicyBinding(obj: unknown): StatusCause[] {
  const spec = isRecord(obj) && isRecord(obj.spec) ? obj.spec : {};
  const out: StatusCause[] = [];
  if (blank(spec.policyName)) out.push(required('spec.policyName'));
  else {
    for (const msg of isDNS1123Subdomain(String(spec.policyName)))
      out.push(invalid('spec.policyName', spec.policyName, msg));
  }
  // kube's own field path has the typo.
  if (isRecord(spec.matchResources))
    out.push(...validateMatchResources(spec.matchResources, 'spec.matchResouces'));
  out.push(...validateValidationActions(spec.validationActions, 'spec.validationActions'));
  return out;
}

/**
 * A ValidatingAdmissionPolicy's CEL, compiled once per policy generation and evaluated per request
 * as kube-apiserver's validator does (`admission/plugin/policy/validating/validator.go`,
 * `admission/plugin/cel/activation.go`): matchConditions first, then each validation, its message
 * from messageExpression, message, or the expression itself. Evaluation is @marcbachmann/cel-js;
 * what the sandbox cannot evaluate (params, the authorizer) is an error, never a silent pass.
 */
import { type ParseResult, parse } from '@marcbachmann/cel-js';
import { isRecord } from '../kube/validation/json-values.js';
import type { AdmissionAttributes } from './admission-policy-match.js';
import type { KObj } from './store.js';

/** apiserver cel config MaxEvaluatedMessageExpressionSizeBytes. */
const MAX_MESSAGE_BYTES = 5 * 1024;

/** Variables the sandbox has no value for: referring to one is an error the failurePolicy settles. */
const UNSUPPORTED_VARIABLES: Record<string, string> = {
  authorizer: 'the authorizer variable is not supported by the sandbox',
  params: 'params (spec.paramKind / spec.paramRef) are not supported by the sandbox',
};

export interface CompiledExpression {
  source: string;
  run?: ParseResult;
  /** Why it cannot run: kube's "compilation error: ..." detail. */
  error?: string;
}

export interface CompiledValidation {
  expression: CompiledExpression;
  message: string;
  messageExpression?: CompiledExpression;
  reason?: string;
}

export interface CompiledPolicy {
  name: string;
  failurePolicy: 'Fail' | 'Ignore';
  /** A configuration the sandbox cannot honour for any binding (paramKind). */
  unsupported?: string;
  matchConstraints: unknown;
  matchConditions: { name: string; expression: CompiledExpression }[];
  variables: { name: string; expression: CompiledExpression }[];
  validations: CompiledValidation[];
  /** Published to an audit log the sandbox does not keep, but their errors deny under Fail. */
  auditAnnotations: { key: string; expression: CompiledExpression }[];
}

/** The identifiers an AST refers to (comprehension variables included; a false hit only errs). */
function identifiers(node: unknown, out: Set<string>): Set<string> {
  if (Array.isArray(node)) for (const n of node) identifiers(n, out);
  else if (isRecord(node) && typeof node.op === 'string') {
    if (node.op === 'id' && typeof node.args === 'string') out.add(node.args);
    else identifiers(node.args, out);
  }
  return out;
}

const firstLine = (err: unknown) => (err instanceof Error ? err.message : String(err)).split('\n')[0]!;

export function compileExpression(source: string): CompiledExpression {
  let run: ParseResult;
  try {
    run = parse(source);
  } catch (err) {
    return { source, error: `compilation error: ${firstLine(err)}` };
  }
  for (const id of identifiers(run.ast, new Set())) {
    const why = UNSUPPORTED_VARIABLES[id];
    if (why) return { source, error: `compilation error: ${why}` };
  }
  return { source, run };
}

const list = (v: unknown): Record<string, unknown>[] => (Array.isArray(v) ? v.filter(isRecord) : []);
const text = (v: unknown) => (typeof v === 'string' ? v : '');

export function compilePolicy(policy: KObj): CompiledPolicy {
  const spec = isRecord(policy.spec) ? policy.spec : {};
  const named = (items: unknown) =>
    list(items).map((i) => ({ name: text(i.name), expression: compileExpression(text(i.expression)) }));
  return {
    name: policy.metadata.name ?? '',
    failurePolicy: spec.failurePolicy === 'Ignore' ? 'Ignore' : 'Fail',
    ...(spec.paramKind ? { unsupported: UNSUPPORTED_VARIABLES.params } : {}),
    matchConstraints: spec.matchConstraints,
    matchConditions: named(spec.matchConditions),
    variables: named(spec.variables),
    validations: list(spec.validations).map((v) => ({
      expression: compileExpression(text(v.expression)),
      message: text(v.message),
      ...(text(v.messageExpression)
        ? { messageExpression: compileExpression(text(v.messageExpression)) }
        : {}),
      ...(text(v.reason) ? { reason: text(v.reason) } : {}),
    })),
    auditAnnotations: list(spec.auditAnnotations).map((a) => ({
      key: text(a.key),
      expression: compileExpression(text(a.valueExpression)),
    })),
  };
}

/** JSON as CEL sees a Kubernetes object: integers are int (bigint), other numbers double. */
export function celValue(v: unknown): unknown {
  if (typeof v === 'number') return Number.isInteger(v) ? BigInt(v) : v;
  if (Array.isArray(v)) return v.map(celValue);
  if (isRecord(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, celValue(x)]));
  return v;
}

/** The AdmissionRequest fields CEL sees as `request` (cel.CreateAdmissionRequest). */
export function requestOf(a: AdmissionAttributes): Record<string, unknown> {
  const u = a.userInfo;
  return {
    kind: a.kind,
    resource: a.resource,
    subResource: a.subresource,
    requestKind: a.kind,
    requestResource: a.resource,
    requestSubResource: a.subresource,
    name: a.name,
    namespace: a.namespace,
    operation: a.operation,
    userInfo: { username: u.username, uid: u.uid ?? '', groups: u.groups, extra: u.extra ?? {} },
    dryRun: a.dryRun,
  };
}

/** CreateNamespaceObject: the Namespace's metadata (without managedFields), spec and status. */
function namespaceView(ns: KObj | null): Record<string, unknown> | null {
  if (!ns) return null;
  const { managedFields: _, ...metadata } = ns.metadata;
  return { metadata, spec: ns.spec ?? {}, status: ns.status ?? {} };
}

type Outcome = { value: unknown } | { error: string };

function run(e: CompiledExpression, activation: Record<string, unknown>): Outcome {
  if (!e.run) return { error: e.error ?? 'compilation error' };
  try {
    return { value: e.run(activation) };
  } catch (err) {
    return { error: `expression '${e.source}' resulted in error: ${firstLine(err)}` };
  }
}

/**
 * The activation: object, oldObject, request, namespaceObject and `variables`, each variable
 * evaluated on first use and remembered (kube's composition: lazy, once per request).
 */
export function activationFor(
  policy: CompiledPolicy,
  a: AdmissionAttributes,
  namespaceObject: KObj | null,
): Record<string, unknown> {
  const activation: Record<string, unknown> = {
    object: celValue(a.object),
    oldObject: celValue(a.oldObject),
    request: celValue(requestOf(a)),
    namespaceObject: celValue(namespaceView(namespaceObject)),
  };
  const variables: Record<string, unknown> = {};
  for (const v of policy.variables) {
    let outcome: Outcome | undefined;
    Object.defineProperty(variables, v.name, {
      enumerable: true,
      get: () => {
        outcome ??= run(v.expression, activation);
        if ('error' in outcome) throw new Error(`composited variable "${v.name}": ${outcome.error}`);
        return outcome.value;
      },
    });
  }
  activation.variables = variables;
  return activation;
}

export interface PolicyDecision {
  action: 'admit' | 'deny';
  /** The failure came from an error, not a false expression. */
  error: boolean;
  message: string;
  reason: string;
}

export const errorDecision = (policy: CompiledPolicy, message: string): PolicyDecision => ({
  action: policy.failurePolicy === 'Ignore' ? 'admit' : 'deny',
  error: true,
  message,
  reason: 'Invalid',
});

/**
 * matchconditions.Matcher: any false → the policy does not apply; else any error → the
 * failurePolicy (an aggregate message); else it applies.
 */
export function evaluateMatchConditions(
  policy: CompiledPolicy,
  activation: Record<string, unknown>,
): { matches: boolean; error?: string } {
  const errors: string[] = [];
  for (const c of policy.matchConditions) {
    const out = run(c.expression, activation);
    if ('error' in out) errors.push(out.error);
    else if (out.value === false) return { matches: false };
    else if (out.value !== true)
      errors.push(`matchCondition '${c.name}' must evaluate to bool, got ${typeof out.value}`);
  }
  if (errors.length === 0) return { matches: true };
  if (policy.failurePolicy === 'Ignore') return { matches: false };
  return { matches: false, error: errors.length === 1 ? errors[0]! : `[${errors.join(', ')}]` };
}

/** The message of a failed validation: messageExpression, then message, then the expression. */
function messageOf(v: CompiledValidation, activation: Record<string, unknown>): string {
  if (v.messageExpression) {
    const out = run(v.messageExpression, activation);
    if ('value' in out && typeof out.value === 'string') {
      const m = out.value.trim();
      if (m !== '' && Buffer.byteLength(m) <= MAX_MESSAGE_BYTES && !m.includes('\n')) return m;
    }
  }
  if (v.message.trim() !== '') return v.message.trim();
  return `failed expression: ${v.expression.source.trim()}`;
}

/** validator.Validate: one decision per validation (matchConditions already passed). */
export function evaluateValidations(
  policy: CompiledPolicy,
  activation: Record<string, unknown>,
): PolicyDecision[] {
  return policy.validations.map((v) => {
    const out = run(v.expression, activation);
    if ('error' in out) return errorDecision(policy, out.error);
    if (typeof out.value !== 'boolean')
      return errorDecision(policy, `expression '${v.expression.source}' must evaluate to bool`);
    if (out.value) return { action: 'admit', error: false, message: '', reason: '' };
    return { action: 'deny', error: false, message: messageOf(v, activation), reason: v.reason ?? 'Invalid' };
  });
}

/**
 * The errors of auditAnnotations' valueExpressions (a string or null is a value; anything else an
 * error), which deny the request whatever the binding's actions under failurePolicy Fail.
 */
export function auditAnnotationErrors(policy: CompiledPolicy, activation: Record<string, unknown>): string[] {
  if (policy.failurePolicy === 'Ignore') return [];
  const errors: string[] = [];
  for (const a of policy.auditAnnotations) {
    const out = run(a.expression, activation);
    if ('error' in out) errors.push(out.error);
    else if (out.value !== null && typeof out.value !== 'string')
      errors.push(
        `valueExpression '${a.expression.source}' resulted in unsupported return type: ${typeof out.value}. Return type must be either string or null.`,
      );
  }
  return errors;
}

/**
 * Endpoints that are not plain storage: TokenReview (authentication.k8s.io/v1) and
 * SubjectAccessReview (authorization.k8s.io/v1), answered, never stored, and a Namespace's
 * /finalize subresource.
 */

import { invalid, type StatusCause } from '../kube/validation/field-errors.js';
import { isRecord } from '../kube/validation/json-values.js';
import { admitNamespace, parseJsonBody } from './admission.js';
import type { AdmissionContext } from './admission-policy.js';
import { badRequest, conflict, invalidObject, notFound } from './api-status.js';
import type { Principal } from './auth.js';
import type { ResourceAttributes } from './rbac.js';
import type { HandlerDeps, Reply } from './resource-handler.js';
import { groupResource, type ResourceType, resourceKey } from './resource-types.js';
import { isFinalized } from './rest-ops.js';
import type { KObj } from './store.js';
import { API_AUDIENCE, type BoundPod } from './system-controllers.js';

export function tokenReview(deps: HandlerDeps, raw: string): Reply {
  const body = parseJsonBody(raw) as {
    apiVersion?: string;
    kind?: string;
    spec?: { token?: string; audiences?: unknown };
  };
  if (body?.kind !== undefined && body.kind !== 'TokenReview')
    throw badRequest(`${body.kind} cannot be handled as a TokenReview`);
  const token = body?.spec?.token ?? '';
  // pkg/registry/authentication/tokenreview/storage.go refuses an empty token before reviewing it.
  if (token === '') throw badRequest('token is required for TokenReview in authentication');
  const audiences = Array.isArray(body?.spec?.audiences)
    ? body.spec.audiences.filter((a): a is string => typeof a === 'string')
    : [];
  return {
    status: 201,
    body: {
      kind: 'TokenReview',
      apiVersion: 'authentication.k8s.io/v1',
      metadata: { creationTimestamp: null },
      spec: body.spec ?? {},
      status: deps.auth.review(token, audiences),
    },
  };
}

const TOKEN_REQUEST = { group: 'authentication.k8s.io', version: 'v1', kind: 'TokenRequest' };

/** TokenRequest's bounds (pkg/apis/authentication/validation), messages verbatim. */
const MIN_TOKEN_SECONDS = 600;
const MAX_TOKEN_SECONDS = 2 ** 32;

/**
 * POST .../serviceaccounts/<name>/token (authentication.k8s.io/v1 TokenRequest), what the kubelet
 * does for a projected `serviceAccountToken` volume: a token for `spec.audiences` (default: the
 * API server's), valid `spec.expirationSeconds` (default 1 h).
 */
export function tokenRequest(
  deps: HandlerDeps,
  namespace: string,
  name: string,
  raw: string,
  admission: AdmissionContext,
): Reply {
  const body = parseJsonBody(raw) as {
    kind?: string;
    spec?: { audiences?: unknown; expirationSeconds?: unknown };
  };
  if (body?.kind !== undefined && body.kind !== 'TokenRequest')
    throw badRequest(`${body.kind} cannot be handled as a TokenRequest`);
  const spec = (body?.spec ?? {}) as {
    audiences?: unknown;
    expirationSeconds?: unknown;
    boundObjectRef?: unknown;
  };
  // NamespaceLifecycle admits every create, subresources included: none in a terminating namespace.
  const serviceAccounts = deps.ops.registry.byKind('', 'ServiceAccount');
  if (serviceAccounts) admitNamespace(deps.ops.store, serviceAccounts, namespace, name);
  const pod = boundPod(deps, namespace, name, spec.boundObjectRef);
  const audiences = spec.audiences ?? [];
  const seconds = spec.expirationSeconds ?? 3600;
  const causes: StatusCause[] = [];
  if (!Array.isArray(audiences) || audiences.some((a) => typeof a !== 'string' || a === ''))
    causes.push(invalid('spec.audiences', audiences, 'must be a list of non-empty strings'));
  if (typeof seconds !== 'number' || !Number.isInteger(seconds))
    causes.push(invalid('spec.expirationSeconds', seconds, 'must be an integer'));
  else if (seconds < MIN_TOKEN_SECONDS)
    causes.push(
      invalid('spec.expirationSeconds', seconds, 'may not specify a duration less than 10 minutes'),
    );
  else if (seconds > MAX_TOKEN_SECONDS)
    causes.push(
      invalid('spec.expirationSeconds', seconds, 'may not specify a duration larger than 2^32 seconds'),
    );
  if (causes.length > 0) throw invalidObject('TokenRequest', 'authentication.k8s.io', name, causes);
  if (serviceAccounts) {
    const request = { ...body, metadata: { name, namespace } } as KObj;
    deps.ops.admit(serviceAccounts, 'v1', 'CREATE', request, null, {
      admission,
      subresource: 'token',
      kind: TOKEN_REQUEST,
    });
  }
  const expiresAt = Date.now() + (seconds as number) * 1000;
  const bound = (audiences as string[]).length > 0 ? (audiences as string[]) : [API_AUDIENCE];
  const token = deps.auth.issueToken(namespace, name, bound, expiresAt, pod);
  if (token === undefined) throw notFound({ group: '', resource: 'serviceaccounts' }, name);
  return {
    status: 201,
    body: {
      kind: 'TokenRequest',
      apiVersion: 'authentication.k8s.io/v1',
      metadata: { name, namespace, creationTimestamp: null },
      spec: {
        audiences: bound,
        expirationSeconds: seconds,
        boundObjectRef: pod ? { kind: 'Pod', apiVersion: 'v1', name: pod.name, uid: pod.uid } : null,
      },
      status: { token, expirationTimestamp: new Date(expiresAt).toISOString().replace(/\.\d{3}Z$/, 'Z') },
    },
  };
}

/**
 * The pod of `spec.boundObjectRef`, as the kubelet binds a projected token to its pod
 * (pkg/registry/core/serviceaccount/storage/token.go): it must exist, match a given uid and run as
 * the account. Secret and Node bindings are not simulated.
 */
function boundPod(deps: HandlerDeps, namespace: string, account: string, ref: unknown): BoundPod | undefined {
  if (ref === undefined || ref === null) return undefined;
  const r = (isRecord(ref) ? ref : {}) as {
    kind?: unknown;
    apiVersion?: unknown;
    name?: unknown;
    uid?: unknown;
  };
  if (r.kind !== 'Pod' || r.apiVersion !== 'v1' || typeof r.name !== 'string')
    throw badRequest(
      'the sandbox binds tokens to Pods only (spec.boundObjectRef: kind Pod, apiVersion v1, name)',
    );
  const pods = { group: '', resource: 'pods' };
  const pod = deps.ops.store.get(resourceKey('', 'pods'), namespace, r.name);
  if (!pod?.metadata.uid) throw notFound(pods, r.name);
  if (typeof r.uid === 'string' && r.uid !== '' && r.uid !== pod.metadata.uid)
    throw conflict(
      pods,
      r.name,
      `the UID in the bound object reference (${r.uid}) does not match the UID in record. The object might have been deleted and then recreated`,
    );
  const podAccount =
    (pod as { spec?: { serviceAccountName?: string } }).spec?.serviceAccountName ?? 'default';
  if (podAccount !== account)
    throw badRequest(
      `cannot bind token for serviceaccount "${account}" to pod running with different serviceaccount name.`,
    );
  return { name: r.name, uid: pod.metadata.uid };
}

interface SarSpec {
  user?: string;
  groups?: string[];
  uid?: string;
  resourceAttributes?: Record<string, unknown>;
  nonResourceAttributes?: Record<string, unknown>;
}

/** ValidateSubjectAccessReviewSpec (pkg/apis/authorization/validation), messages verbatim. */
function sarProblems(spec: SarSpec): StatusCause[] {
  const causes: StatusCause[] = [];
  const res = spec.resourceAttributes !== undefined && spec.resourceAttributes !== null;
  const nonRes = spec.nonResourceAttributes !== undefined && spec.nonResourceAttributes !== null;
  if (res && nonRes) {
    causes.push(
      invalid(
        'spec.nonResourceAttributes',
        spec.nonResourceAttributes,
        'cannot be specified in combination with resourceAttributes',
      ),
    );
  }
  if (!res && !nonRes) {
    causes.push(
      invalid(
        'spec.resourceAttributes',
        null,
        'exactly one of nonResourceAttributes or resourceAttributes must be specified',
      ),
    );
  }
  if (!spec.user && (spec.groups ?? []).length === 0)
    causes.push(invalid('spec.user', '', 'at least one of user or group must be specified'));
  return causes;
}

function attributesOf(ra: Record<string, unknown>): ResourceAttributes {
  const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
  return {
    verb: str(ra.verb) ?? '',
    group: str(ra.group) ?? '',
    resource: str(ra.resource) ?? '',
    subresource: str(ra.subresource),
    namespace: str(ra.namespace),
    name: str(ra.name),
  };
}

function reviewBody(kind: string, raw: string): SarSpec {
  const body = parseJsonBody(raw) as { kind?: string; spec?: SarSpec };
  if (body?.kind !== undefined && body.kind !== kind)
    throw badRequest(`${body.kind} cannot be handled as a ${kind}`);
  return isRecord(body?.spec) ? (body.spec as SarSpec) : {};
}

function reviewReply(kind: string, spec: SarSpec, allowed: boolean): Reply {
  return {
    status: 201,
    body: {
      kind,
      apiVersion: 'authorization.k8s.io/v1',
      metadata: { creationTimestamp: null },
      spec,
      status: { allowed, ...(allowed ? { reason: 'RBAC: allowed' } : {}) },
    },
  };
}

/** POST subjectaccessreviews: may this user do this? (RBAC only; non-resource URLs are denied.) */
export function subjectAccessReview(deps: HandlerDeps, raw: string): Reply {
  const spec = reviewBody('SubjectAccessReview', raw);
  const causes = sarProblems(spec);
  if (causes.length > 0) throw invalidObject('SubjectAccessReview', 'authorization.k8s.io', '', causes);
  const ra = spec.resourceAttributes;
  const user = { username: spec.user ?? '', groups: spec.groups ?? [] };
  const allowed = ra !== undefined && deps.auth.reviewAccess(user, attributesOf(ra));
  return reviewReply('SubjectAccessReview', spec, allowed);
}

/** POST selfsubjectaccessreviews: may I do this? Answered for the caller, static token rules included. */
export function selfSubjectAccessReview(deps: HandlerDeps, raw: string, principal: Principal): Reply {
  const spec = reviewBody('SelfSubjectAccessReview', raw);
  const res = isRecord(spec.resourceAttributes);
  if (res === isRecord(spec.nonResourceAttributes)) {
    throw invalidObject('SelfSubjectAccessReview', 'authorization.k8s.io', '', [
      invalid(
        'spec.resourceAttributes',
        'null',
        'exactly one of nonResourceAttributes or resourceAttributes must be specified',
      ),
    ]);
  }
  const allowed = res && deps.auth.allows(principal, attributesOf(spec.resourceAttributes!));
  return reviewReply('SelfSubjectAccessReview', spec, allowed);
}

/** PUT /api/v1/namespaces/<ns>/finalize: the only way spec.finalizers changes. */
export function finalizeNamespace(
  deps: HandlerDeps,
  rt: ResourceType,
  name: string,
  raw: string,
  admission: AdmissionContext,
): Reply {
  const body = parseJsonBody(raw) as { spec?: { finalizers?: string[] } };
  const key = resourceKey('', 'namespaces');
  const current = deps.ops.store.get(key, undefined, name);
  if (!current) throw notFound(groupResource(rt), name);
  const next = structuredClone(current);
  next.spec = { ...(next.spec as object), finalizers: body?.spec?.finalizers ?? [] };
  deps.ops.admit(rt, 'v1', 'UPDATE', next, current, { admission, subresource: 'finalize' });
  if (next.metadata.deletionTimestamp && isFinalized(rt, next))
    return { status: 200, body: deps.ops.removeNow(rt, next) };
  return { status: 200, body: deps.ops.store.put(key, next) };
}

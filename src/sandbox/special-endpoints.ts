/**
 * Endpoints that are not plain storage: TokenReview (authentication.k8s.io/v1) and
 * SubjectAccessReview (authorization.k8s.io/v1), answered, never stored, and a Namespace's
 * /finalize subresource.
 */

import { parseJsonBody } from './admission.js';
import { badRequest, invalidObject, notFound } from './api-status.js';
import type { Principal } from './auth.js';
import { invalid, type StatusCause } from './field-errors.js';
import { isRecord } from './json-values.js';
import type { ResourceAttributes } from './rbac.js';
import type { HandlerDeps, Reply } from './resource-handler.js';
import { groupResource, type ResourceType, resourceKey } from './resource-types.js';
import { isFinalized } from './rest-ops.js';

export function tokenReview(deps: HandlerDeps, raw: string): Reply {
  const body = parseJsonBody(raw) as { apiVersion?: string; kind?: string; spec?: { token?: string } };
  if (body?.kind !== undefined && body.kind !== 'TokenReview')
    throw badRequest(`${body.kind} cannot be handled as a TokenReview`);
  const token = body?.spec?.token ?? '';
  return {
    status: 201,
    body: {
      kind: 'TokenReview',
      apiVersion: 'authentication.k8s.io/v1',
      metadata: { creationTimestamp: null },
      spec: body.spec ?? {},
      status: deps.auth.review(token),
    },
  };
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
export function finalizeNamespace(deps: HandlerDeps, rt: ResourceType, name: string, raw: string): Reply {
  const body = parseJsonBody(raw) as { spec?: { finalizers?: string[] } };
  const key = resourceKey('', 'namespaces');
  const current = deps.ops.store.get(key, undefined, name);
  if (!current) throw notFound(groupResource(rt), name);
  const next = structuredClone(current);
  next.spec = { ...(next.spec as object), finalizers: body?.spec?.finalizers ?? [] };
  if (next.metadata.deletionTimestamp && isFinalized(rt, next))
    return { status: 200, body: deps.ops.removeNow(rt, next) };
  return { status: 200, body: deps.ops.store.put(key, next) };
}

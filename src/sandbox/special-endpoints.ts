/**
 * Endpoints that are not plain storage: TokenReview (authentication.k8s.io/v1, answered, never
 * stored) and a Namespace's /finalize subresource.
 */

import { parseJsonBody } from './admission.js';
import { badRequest, notFound } from './api-status.js';
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

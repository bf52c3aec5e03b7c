/**
 * `metav1.Status` failures worded as kube-apiserver words them (apimachinery
 * `pkg/api/errors/errors.go`), thrown as `ApiError` from anywhere in the request path and written by
 * the server. Clients (client-node, kubectl) match on `reason` and `code`, so both must be exact.
 */
import { invalidStatusMessage, type StatusCause } from '../kube/validation/field-errors.js';

export type StatusReason =
  | 'BadRequest'
  | 'Unauthorized'
  | 'Forbidden'
  | 'NotFound'
  | 'AlreadyExists'
  | 'Conflict'
  | 'Gone'
  | 'Expired'
  | 'Invalid'
  | 'MethodNotAllowed'
  | 'NotAcceptable'
  | 'UnsupportedMediaType'
  | 'RequestEntityTooLarge'
  | 'TooManyRequests'
  | 'InternalError'
  | 'ServiceUnavailable'
  | 'Timeout'
  /** StatusReasonUnknown: a storage error that is no Status (ErrorToAPIStatus), sent without a reason. */
  | '';

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: Array<{ reason?: string; message: string; field?: string }>;
  retryAfterSeconds?: number;
}

export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure' | 'Success';
  message?: string;
  reason?: StatusReason;
  details?: StatusDetails;
  code: number;
}

export class ApiError extends Error {
  readonly code: number;
  readonly reason: StatusReason;
  readonly details: StatusDetails | undefined;

  constructor(code: number, reason: StatusReason, message: string, details?: StatusDetails) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.reason = reason;
    this.details = details;
  }

  toStatus(): Status {
    const status: Status = {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      ...(this.reason ? { reason: this.reason } : {}),
      code: this.code,
    };
    if (this.details) status.details = this.details;
    return status;
  }
}

/** `services` or `deployments.apps`: how kube names a resource in messages (GroupResource.String()). */
export interface GroupResource {
  group: string;
  resource: string;
}

export function qualified(gr: GroupResource): string {
  return gr.group ? `${gr.resource}.${gr.group}` : gr.resource;
}

function detailsFor(gr: GroupResource, name?: string): StatusDetails {
  const d: StatusDetails = {};
  if (name !== undefined) d.name = name;
  if (gr.group) d.group = gr.group;
  d.kind = gr.resource;
  return d;
}

export function notFound(gr: GroupResource, name: string): ApiError {
  return new ApiError(
    404,
    'NotFound',
    `${qualified(gr)} ${JSON.stringify(name)} not found`,
    detailsFor(gr, name),
  );
}

/** A URL the server does not serve at all (no such resource or group). */
export function pathNotFound(): ApiError {
  return new ApiError(404, 'NotFound', 'the server could not find the requested resource', {});
}

export function alreadyExists(gr: GroupResource, name: string): ApiError {
  return new ApiError(
    409,
    'AlreadyExists',
    `${qualified(gr)} ${JSON.stringify(name)} already exists`,
    detailsFor(gr, name),
  );
}

/** errors.NewConflict; `reason` is the part after the colon. */
export function conflict(gr: GroupResource, name: string, reason: string): ApiError {
  return new ApiError(
    409,
    'Conflict',
    `Operation cannot be fulfilled on ${qualified(gr)} ${JSON.stringify(name)}: ${reason}`,
    detailsFor(gr, name),
  );
}

/** registry.OptimisticLockErrorMsg. */
export const OPTIMISTIC_LOCK_MSG =
  'the object has been modified; please apply your changes to the latest version and try again';

export function staleConflict(gr: GroupResource, name: string): ApiError {
  return conflict(gr, name, OPTIMISTIC_LOCK_MSG);
}

/** errors.NewInvalid: the Kind (not the resource) names the object; causes go in details. */
export function invalidObject(
  kind: string,
  group: string,
  name: string,
  causes: readonly StatusCause[],
): ApiError {
  const details: StatusDetails = { name, kind };
  if (group) details.group = group;
  details.causes = causes.map((c) => ({ reason: c.reason, message: c.message, field: c.field }));
  // The message names the GroupKind (`Deployment.apps`, `Link.multicluster.isthmus.dev`).
  const qualifiedKind = group ? `${kind}.${group}` : kind;
  return new ApiError(422, 'Invalid', invalidStatusMessage(qualifiedKind, name, causes), details);
}

export function badRequest(message: string): ApiError {
  return new ApiError(400, 'BadRequest', message, {});
}

export function methodNotAllowed(verb: string, gr: GroupResource): ApiError {
  return new ApiError(
    405,
    'MethodNotAllowed',
    `${verb} is not supported on resources of kind ${JSON.stringify(qualified(gr))}`,
    detailsFor(gr),
  );
}

export function unsupportedMediaType(contentType: string): ApiError {
  return new ApiError(
    415,
    'UnsupportedMediaType',
    `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml (got ${contentType})`,
    {},
  );
}

/** 410 with reason Expired: what a list with a compacted continue token or a watch from an old RV gets. */
export function expired(message: string): ApiError {
  return new ApiError(410, 'Expired', message, {});
}

export function unauthorized(): ApiError {
  return new ApiError(401, 'Unauthorized', 'Unauthorized', {});
}

export function forbidden(gr: GroupResource, name: string | undefined, message: string): ApiError {
  const subject = name ? `${qualified(gr)} ${JSON.stringify(name)}` : qualified(gr);
  return new ApiError(403, 'Forbidden', `${subject} is forbidden: ${message}`, detailsFor(gr, name));
}

export function tooLarge(limit: number): ApiError {
  return new ApiError(413, 'RequestEntityTooLarge', `Request entity too large: limit is ${limit}`, {});
}

export function tooManyRequests(retryAfterSeconds: number): ApiError {
  return new ApiError(429, 'TooManyRequests', 'Too many requests, please try again later.', {
    retryAfterSeconds,
  });
}

/** What the proxy subresources answer when the target cannot be reached (apierrors.NewServiceUnavailable). */
export function serviceUnavailable(message: string): ApiError {
  return new ApiError(503, 'ServiceUnavailable', message);
}

export function internalError(message: string): ApiError {
  return new ApiError(500, 'InternalError', `Internal error occurred: ${message}`, {
    causes: [{ message }],
  });
}

export function successStatus(details: StatusDetails): Record<string, unknown> {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details };
}

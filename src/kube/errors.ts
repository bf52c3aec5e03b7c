/**
 * Maps API server answers and transport failures to IsthmusError codes, so callers match on
 * `code` and never on status numbers or client-node internals. Status semantics follow the
 * Kubernetes API conventions ("HTTP Status codes", api-conventions.md).
 */
import { IsthmusError, type IsthmusErrorCode, isIsthmusError } from '../errors.js';

/** One entry of Status.details.causes: which field was rejected and why (422). */
export interface StatusCause {
  field?: string;
  message?: string;
  reason?: string;
}

/** The parts of a metav1.Status body we use. */
export interface KubeStatus {
  kind?: string;
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: { name?: string; kind?: string; causes?: StatusCause[]; retryAfterSeconds?: number };
}

/** An IsthmusError from the API, carrying what the server said. */
export class KubeApiError extends IsthmusError {
  constructor(
    code: IsthmusErrorCode,
    message: string,
    readonly status: number | undefined,
    readonly reason: string | undefined,
    readonly causes: StatusCause[],
    readonly retryAfterMs: number | undefined,
    options: { cause?: unknown; terminal?: boolean; body?: string } = {},
  ) {
    super(code, message, options);
    this.name = 'KubeApiError';
    if (options.body !== undefined) this.body = options.body;
  }

  /**
   * A plain-text answer (no Status), up to 4 KiB: what a pod said through the API server's pod
   * proxy (its `/ready` reasons), which the message only quotes in part.
   */
  readonly body?: string;
}

/**
 * The StatusCause kube-apiserver's NamespaceLifecycle admission adds to its 403 for a create in a
 * namespace being deleted (`v1.NamespaceTerminatingCause`, k8s.io/api/core/v1).
 */
const NAMESPACE_TERMINATING_CAUSE = 'NamespaceTerminating';

/**
 * Status code → (code, terminal). 403 and 422 are terminal: retrying cannot change the answer.
 * A 403 because the namespace is being deleted is not: once it is gone, it can be created again.
 */
function classify(status: number): { code: IsthmusErrorCode; terminal: boolean } {
  if (status === 401) return { code: 'KUBE_UNAUTHORIZED', terminal: false };
  if (status === 403) return { code: 'KUBE_FORBIDDEN', terminal: true };
  if (status === 404) return { code: 'KUBE_NOT_FOUND', terminal: false };
  // 409 is both a stale resourceVersion (Conflict) and AlreadyExists: both mean "re-read, retry".
  if (status === 409) return { code: 'KUBE_CONFLICT', terminal: false };
  // 410: the requested resourceVersion is older than the server keeps (watch cache window).
  if (status === 410) return { code: 'KUBE_GONE', terminal: false };
  if (status === 422) return { code: 'KUBE_INVALID', terminal: true };
  if (status === 429) return { code: 'KUBE_TOO_MANY_REQUESTS', terminal: false };
  if (status >= 500) return { code: 'KUBE_API_UNAVAILABLE', terminal: false };
  // 400 (malformed request), 405, 406, 415: a bug on our side; retrying repeats it.
  return { code: 'KUBE_REQUEST_FAILED', terminal: true };
}

/** Retry-After is either delta-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined || value === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

function asStatus(body: unknown): KubeStatus | undefined {
  return body !== null && typeof body === 'object' && (body as KubeStatus).kind === 'Status'
    ? (body as KubeStatus)
    : undefined;
}

/** An error from an HTTP answer with a non-2xx status (body already parsed if it was JSON). */
export function errorFromResponse(
  status: number,
  body: unknown,
  context: { method: string; path: string; retryAfter?: string },
): KubeApiError {
  const st = asStatus(body);
  const causes = st?.details?.causes ?? [];
  const { code, terminal: refused } = classify(status);
  const terminal = refused && !causes.some((c) => c.reason === NAMESPACE_TERMINATING_CAUSE);
  const serverMessage = st?.message ?? (typeof body === 'string' && body !== '' ? body.slice(0, 300) : '');
  const causeText = causes
    .filter((c) => c.message !== undefined && !serverMessage.includes(c.message))
    .map((c) => (c.field ? `${c.field}: ${c.message}` : c.message))
    .join('; ');
  const message =
    `${context.method} ${context.path}: ${status}${st?.reason ? ` ${st.reason}` : ''}` +
    `${serverMessage ? `: ${serverMessage}` : ''}${causeText ? ` (${causeText})` : ''}`;
  const retryAfterMs =
    parseRetryAfter(context.retryAfter) ??
    (st?.details?.retryAfterSeconds !== undefined ? st.details.retryAfterSeconds * 1000 : undefined);
  const text = st === undefined && typeof body === 'string' ? { body: body.slice(0, 4096) } : {};
  return new KubeApiError(code, message, status, st?.reason, causes, retryAfterMs, { terminal, ...text });
}

/** An ERROR event inside a watch stream carries a Status; 410 there means "relist". */
export function errorFromWatchStatus(body: unknown, path: string): KubeApiError {
  const st = asStatus(body);
  return errorFromResponse(st?.code ?? 500, body, { method: 'WATCH', path });
}

/** Connection refused/reset, DNS failure, TLS failure, timeout: the API is unavailable, retry. */
export function errorFromTransport(err: unknown, context: { method: string; path: string }): KubeApiError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const detail = err instanceof Error ? err.message : String(err);
  return new KubeApiError(
    'KUBE_API_UNAVAILABLE',
    `${context.method} ${context.path}: ${code ? `${code}: ` : ''}${detail}`,
    undefined,
    code,
    [],
    undefined,
    { cause: err },
  );
}

/** Retry is the default; terminal errors are retried only slowly (STYLE.md §3, TERMINAL_RETRY_MS). Unknown errors are retried. */
export function isRetryable(err: unknown): boolean {
  return !(isIsthmusError(err) && err.terminal);
}

/** How long the server asked us to wait (429/503 Retry-After), if it did. */
export function retryAfterMs(err: unknown): number | undefined {
  return err instanceof KubeApiError ? err.retryAfterMs : undefined;
}

export function isNotFound(err: unknown): boolean {
  return isIsthmusError(err, 'KUBE_NOT_FOUND');
}

export function isConflict(err: unknown): boolean {
  return isIsthmusError(err, 'KUBE_CONFLICT');
}

/** A create hit an existing object (409 AlreadyExists), as opposed to a stale update (409 Conflict). */
export function isAlreadyExists(err: unknown): boolean {
  return err instanceof KubeApiError && err.status === 409 && err.reason === 'AlreadyExists';
}

/**
 * A create refused because its namespace is being deleted (403 with the NamespaceTerminating
 * cause), as opposed to a 403 of RBAC: the namespace holds nothing new until it is re-created.
 */
export function isNamespaceTerminating(err: unknown): err is KubeApiError {
  return (
    err instanceof KubeApiError &&
    err.status === 403 &&
    err.causes.some((c) => c.reason === NAMESPACE_TERMINATING_CAUSE)
  );
}

export function isGone(err: unknown): boolean {
  return isIsthmusError(err, 'KUBE_GONE');
}

/**
 * kube-apiserver is behind the resourceVersion asked for (504 Timeout with the cause
 * ResourceVersionTooLarge, storage.NewTooLargeResourceVersionError): its etcd was restored without
 * --bump-revision, or a cache lags. client-go's reflector relists from "" on it
 * (isTooLargeResourceVersionError); older servers said so only in the message.
 */
export function isTooLargeResourceVersion(err: unknown): boolean {
  return (
    err instanceof KubeApiError &&
    err.status === 504 &&
    (err.causes.some((c) => c.reason === 'ResourceVersionTooLarge') ||
      err.message.includes('Too large resource version'))
  );
}

/**
 * What one answer of the local gateway's admin `/probe` says, and whose a failure is. The probe
 * goes through this cluster's gateway (probe-worker.ts), so a failure is either the remote's (the
 * local gateway dialled it and it did not answer, refused the tunnel or was not trusted) or this
 * side's, which says nothing of the remote: the admin did not answer (refused, timed out), answered
 * with an error, or answered that it cannot probe (no usable certificate) or will not probe that
 * address (no Link names it there).
 *
 * The gateway says which in `failure: 'local' | 'remote'` (src/gateway/admin.ts). A gateway older
 * than that field answers a failure 503, counted the remote's as it always was, or 403 `refused`,
 * this side's: it dialled nothing. Any other status is no verdict of /probe: this side's.
 */
import { peerVersion } from '../version.js';

export type ProbeFailure = 'local' | 'remote';

export interface ProbeResult {
  success: boolean;
  /** Whose the failure is (absent on a success). */
  failure?: ProbeFailure;
  latencyMs?: number;
  error?: string;
  /** The version the remote gateway says it runs. */
  version?: string;
  /**
   * On a success, the address of the remote gateway that answered when it is not the one probed:
   * nothing answered there, and the local gateway reached another address the Link names for it.
   */
  via?: string;
}

/** The JSON of a `/probe` answer, as any version of the gateway may send it. */
export interface ProbeAnswerBody {
  alive?: unknown;
  latencyMs?: unknown;
  error?: unknown;
  version?: unknown;
  refused?: unknown;
  failure?: unknown;
  via?: unknown;
}

const LOCAL = "this cluster's gateway";

/** Pure: the result of an answer with HTTP `status` and (parsed, possibly empty) `body`. */
export function probeAnswer(status: number, body: ProbeAnswerBody): ProbeResult {
  const success = status === 200 && body.alive === true;
  const result: ProbeResult = { success };
  if (!success) result.failure = failureOf(status, body);
  if (typeof body.latencyMs === 'number') result.latencyMs = body.latencyMs;
  const version = peerVersion(body.version);
  if (version !== undefined) result.version = version;
  if (success && typeof body.via === 'string') result.via = body.via;
  if (success) return result;
  const error = typeof body.error === 'string' ? body.error : undefined;
  if (result.failure === 'remote') result.error = error ?? `probe answered ${status}`;
  else if (status === 403) result.error = `${LOCAL} refuses to probe it: ${error ?? 'no reason given'}`;
  else if (status === 200 || status === 503)
    result.error = `${LOCAL} cannot probe: ${error ?? 'no reason given'}`;
  else result.error = `${LOCAL} admin answered ${status}${error === undefined ? '' : `: ${error}`}`;
  return result;
}

function failureOf(status: number, body: ProbeAnswerBody): ProbeFailure {
  if (body.failure === 'local' || body.failure === 'remote') return body.failure;
  return status === 200 || status === 503 ? 'remote' : 'local';
}

/**
 * Pure: the result of a probe the admin did not answer within `timeoutMs` (plus the margin the
 * caller allows) or at all: this side's failure. fetch() hides the socket's error in `cause`.
 */
export function probeUnanswered(err: unknown, adminUrl: string, timeoutMs: number): ProbeResult {
  const why =
    err instanceof Error && err.name === 'TimeoutError'
      ? `no answer within ${timeoutMs} ms`
      : err instanceof Error && err.cause instanceof Error
        ? err.cause.message
        : err instanceof Error
          ? err.message
          : String(err);
  return { success: false, failure: 'local', error: `${LOCAL} admin (${adminUrl}) did not answer: ${why}` };
}

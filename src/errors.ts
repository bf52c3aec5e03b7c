/**
 * The one error type of Isthmus. Callers match on `code`, never on message text (as undici does).
 * Retry is the default; an error marked `terminal` is one that retrying soon cannot fix
 * (controller-runtime's TerminalError: a malformed Link, a 403): work queues retry it only every
 * TERMINAL_RETRY_MS (2 minutes), since what fixes it, such as a Role re-applied, sends no event.
 */
export type IsthmusErrorCode =
  // API access (src/kube)
  | 'KUBECONFIG_INVALID'
  | 'KUBE_API_UNAVAILABLE'
  | 'KUBE_CONFLICT'
  | 'KUBE_NOT_FOUND'
  | 'KUBE_FORBIDDEN'
  | 'KUBE_UNAUTHORIZED'
  | 'KUBE_INVALID'
  | 'KUBE_GONE'
  | 'KUBE_TOO_MANY_REQUESTS'
  | 'KUBE_REQUEST_FAILED'
  // identity
  | 'CERT_INVALID'
  | 'CERT_EXISTS'
  | 'CRL_INVALID'
  | 'CSR_INVALID'
  | 'IDENTITY_DENIED'
  | 'IDENTITY_UNAVAILABLE'
  // gateway
  | 'GATEWAY_CONNECT_TIMEOUT'
  | 'GATEWAY_UNREACHABLE'
  /** A tunnel or session to the gateway of a cluster no Link names (any more): refused, nothing dialled. */
  | 'GATEWAY_NOT_LINKED'
  | 'GATEWAY_IDENTITY_MISMATCH'
  | 'GATEWAY_REFUSED'
  | 'GATEWAY_UNTRUSTED'
  | 'TUNNEL_REFUSED'
  | 'PORT_RANGE_EXHAUSTED'
  | 'EGRESS_LISTEN_FAILED'
  // controllers
  | 'LINK_INVALID'
  | 'MIRROR_NAMESPACE_FORBIDDEN'
  | 'SPLIT_INVALID'
  /** A write refused before it was sent: this replica's leadership (its Lease's term) has ended. */
  | 'NOT_LEADER'
  // cli
  | 'USAGE'
  | 'INSTALL_RECORD_INVALID'
  | 'WAIT_TIMEOUT';

export class IsthmusError extends Error {
  readonly code: IsthmusErrorCode;
  readonly terminal: boolean;

  constructor(
    code: IsthmusErrorCode,
    message: string,
    options: { cause?: unknown; terminal?: boolean } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'IsthmusError';
    this.code = code;
    this.terminal = options.terminal ?? false;
  }
}

export function isIsthmusError(err: unknown, code?: IsthmusErrorCode): err is IsthmusError {
  return err instanceof IsthmusError && (code === undefined || err.code === code);
}

/** A one-line description of any thrown value, for logs, conditions and events. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

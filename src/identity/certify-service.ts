import diagnostics from 'node:diagnostics_channel';
import { experimental, Server, type ServerUnaryCall, type ServiceError, status } from '@grpc/grpc-js';
import { describeError } from '../errors.js';
import { anyAddress } from '../host-port.js';
import {
  DEFAULT_CLUSTER_DOMAIN,
  IDENTITY_SERVICE_NAME,
  IDENTITY_TOKEN_AUDIENCE,
  PORTS,
  SYSTEM_NAMESPACE,
} from '../kube/keys.js';
import {
  CLOCK_SKEW_ALLOWANCE_MS,
  chainOf,
  DEFAULT_LEAF_LIFETIME_MS,
  issueLeaf,
  issuerWindowProblem,
  type KeyPairPem,
  leafNotAfter,
} from './ca.js';
import { callSignal, msLeft, reviewBudgetMs, untilAborted, waitBudgetMs } from './call-deadline.js';
import { CallerPenalties } from './caller-penalty.js';
import { certificateInfo } from './certificate-info.js';
import {
  csrSizeProblem,
  MAX_CERTIFY_IN_FLIGHT_PER_CALLER,
  peerAddress,
  tokenProblem,
} from './certify-admission.js';
import { CERTIFY_CHANNEL } from './certify-log.js';
import { normaliseSerial } from './crl.js';
import { checkCsr } from './csr.js';
import { FairSlots, MAX_CERTIFY_WAIT_MS, MAX_CERTIFY_WAITING, type SlotGrant } from './fair-slots.js';
import { bindServer, shutdownServer } from './grpc-util.js';
import { addHealthService } from './health.js';
import { allowedIdentityFor, defaultIdentityRules, type IdentityRule } from './identity-policy.js';
import {
  type CertifyRequest,
  type CertifyResponse,
  identityServiceDefinition,
  ServingStatus,
} from './protocol.js';
import {
  identityDnsNames,
  type ServingCertificate,
  type ServingCertificateOptions,
  ServingCertificateProvider,
} from './serving-cert.js';

export { issuerWindowProblem };

/**
 * The identity service: signs gateway CSRs with this cluster's issuer, whose key lives only in this
 * process. Callers prove who they are with a service account token, checked by an injected
 * TokenReviewer (the kube-backed one is src/kube/token-review.ts).
 */
export type TokenReviewer = (
  token: string,
  /** The token must be for one of these (IDENTITY_TOKEN_AUDIENCE): not an API server token. */
  audiences: string[],
  /** Aborted when the answer is no longer wanted (the call ended, or the review took too long). */
  signal?: AbortSignal,
) => Promise<TokenReview>;

type TokenReview = {
  authenticated: boolean;
  username?: string;
  /** TokenReview's `status.user.extra`: for a pod's bound token, POD_NAME_EXTRA names the pod. */
  extra?: Record<string, string[]>;
  error?: string;
};

/**
 * The `status.user.extra` key kube-apiserver sets on a TokenReview of a token bound to a pod (every
 * projected service account token): the pod the kubelet minted it for.
 */
export const POD_NAME_EXTRA = 'authentication.kubernetes.io/pod-name';

/** Who asked, as the TokenReview said: the account (`system:serviceaccount:<ns>:<name>`) and the pod. */
export interface CertifyCaller {
  user?: string;
  pod?: string;
}

/**
 * Published once per Certify call (src/identity/certify-log.ts logs it, identity-metrics.ts counts
 * it). An issued certificate carries its serial (lowercase hex, as `isthmus certs revoke --serial`
 * takes it) and notAfter, so one minted with a stolen token can be found and revoked; every event
 * names the caller once its token was reviewed.
 */
export interface CertifyEvent extends CertifyCaller {
  outcome: CertifyOutcome;
  /** The identity issued, or, on a refusal, the one the caller's account holds by the rules. */
  identity?: string;
  serial?: string;
  /** ISO 8601. */
  notAfter?: string;
  reason?: string;
  /** From the call's arrival to its answer. */
  durationMs: number;
  /** The TokenReview itself failed (the API server), not the token: see CertifyFailure. */
  tokenReview?: TokenReviewFailure;
  /** The caller's address (peerAddress: no port), from the connection; the log's rate limit is per address. */
  peer?: string;
  /** How long the call waited for a slot, when it had to (fair-slots.ts). */
  waitedMs?: number;
  /** This refusal penalised the caller's address, which was not penalised before (caller-penalty.ts). */
  penaltyImposed?: true;
}
export const certifyChannel = diagnostics.channel(CERTIFY_CHANNEL);
export type CertifyOutcome =
  | 'issued'
  | 'unauthenticated'
  | 'denied'
  | 'invalid'
  | 'unavailable'
  | 'cancelled'
  | 'busy'
  /** The caller's address already had its share of calls in flight or waiting (maxInFlightPerCaller). */
  | 'throttled'
  /** The same, its share reduced to 1: it was refused for its credentials lately (caller-penalty.ts). */
  | 'penalised'
  /** The handler threw (signing failed): answered INTERNAL. */
  | 'internal';

/** Why a TokenReview gave no verdict: no answer within its budget, or an error from the API server. */
export type TokenReviewFailure = 'timeout' | 'error';

export interface CertifyDeps {
  /** The issuer, or where to read the one in force at each request (it is reloaded when renewed). */
  issuer: KeyPairPem | (() => KeyPairPem);
  trustDomain: string;
  cluster: string;
  reviewer: TokenReviewer;
  /** Default: the gateway service account holds this cluster's gateway identity. */
  rules?: IdentityRule[];
  lifetimeMs?: number;
  /** The longest a TokenReview may take (DEFAULT_REVIEW_TIMEOUT_MS), less if the caller's deadline is near. */
  reviewTimeoutMs?: number;
  /** Calls handled at once (MAX_CERTIFY_IN_FLIGHT); more wait for a slot, or are refused as busy. */
  maxInFlight?: number;
  /** Calls from one caller address in flight or waiting (MAX_CERTIFY_IN_FLIGHT_PER_CALLER); more are refused as throttled. */
  maxInFlightPerCaller?: number;
  /** Calls waiting for a slot at once (MAX_CERTIFY_WAITING); more are refused as busy. */
  maxWaiting?: number;
  /** The longest a call waits for a slot (MAX_CERTIFY_WAIT_MS), less if the caller's deadline is near. */
  maxWaitMs?: number;
  /** How long an address refused for its credentials holds a reduced share (PENALTY_MS). */
  penaltyMs?: number;
  /** A monotonic clock in ms, for penalties and waits (default performance.now). */
  clock?: () => number;
  /**
   * Refuse a token that is not shaped as a JWT (UNAUTHENTICATED), before any slot or TokenReview.
   * Every token of the identity audience is one (a projected service account token); `isthmus
   * identity` sets this. Default false: a reviewer of other tokens (tests' stand-ins) gets them all.
   */
  requireJwt?: boolean;
  now?: () => Date;
}

/**
 * Each call holds a TokenReview in flight, then verifies and signs in pure JS on the event loop.
 * A healthy review takes milliseconds, so even a mass restart of gateways rarely has a handful at
 * once; 32 means a hung API server or abuse, and more would only load the API server. A call that
 * finds them all busy waits a little for one (fair-slots.ts), then is refused; RESOURCE_EXHAUSTED
 * tells the gateway to back off and retry: requestCertificate maps it to the retryable
 * IDENTITY_UNAVAILABLE, and the rotator retries that with backoff.
 */
export const MAX_CERTIFY_IN_FLIGHT = 32;

/**
 * Half the gateway's deadline (DEFAULT_CERTIFY_TIMEOUT_MS, 10 s). A review takes milliseconds; one
 * that takes seconds means the API server is in trouble, and the gateway had better hear so and
 * back off than wait on to its deadline.
 */
export const DEFAULT_REVIEW_TIMEOUT_MS = 5000;

/** The call a request came in: ending it (cancel, deadline) stops the handler's work. */
export interface CertifyCall {
  signal?: AbortSignal;
  /** ms left before the caller's deadline. */
  msLeft?: number;
  /** The caller's address (peerAddress), whose share of the slots the call takes; default `unknown`. */
  peer?: string;
}

export type CertifyResult = (
  | { ok: true; response: CertifyResponse; identity: string; serial: string; caller: CertifyCaller }
  | {
      ok: false;
      code: status;
      outcome: Exclude<CertifyOutcome, 'issued'>;
      message: string;
      /** Set once the token was reviewed and named someone. */
      caller?: CertifyCaller;
      /** Set once the caller's account is known to hold this identity (bounded: the rules'). */
      identity?: string;
      /** Set when the TokenReview gave no verdict: the token may be fine, the API server is what failed. */
      tokenReview?: TokenReviewFailure;
    }
) &
  Pick<CertifyEvent, 'waitedMs' | 'penaltyImposed'>;
type CertifyFailure = Extract<CertifyResult, { ok: false }>;

/** The Certify decision and signing, without gRPC: what the tests table-drive. */
export function createCertifyHandler(
  deps: CertifyDeps,
): (req: CertifyRequest, call?: CertifyCall) => Promise<CertifyResult> {
  const rules = deps.rules ?? defaultIdentityRules(deps.trustDomain, deps.cluster);
  const lifetimeMs = deps.lifetimeMs ?? DEFAULT_LEAF_LIFETIME_MS;
  const reviewTimeoutMs = deps.reviewTimeoutMs ?? DEFAULT_REVIEW_TIMEOUT_MS;
  const issuerOf = typeof deps.issuer === 'function' ? deps.issuer : () => deps.issuer as KeyPairPem;
  const clock = deps.clock ?? (() => performance.now());
  const penalties = new CallerPenalties({
    now: clock,
    ...(deps.penaltyMs === undefined ? {} : { penaltyMs: deps.penaltyMs }),
  });
  const slots = new FairSlots(
    {
      max: deps.maxInFlight ?? MAX_CERTIFY_IN_FLIGHT,
      perCaller: deps.maxInFlightPerCaller ?? MAX_CERTIFY_IN_FLIGHT_PER_CALLER,
      maxWaiting: deps.maxWaiting ?? MAX_CERTIFY_WAITING,
    },
    (caller) => penalties.isPenalised(caller),
    clock,
  );
  const maxWaitMs = deps.maxWaitMs ?? MAX_CERTIFY_WAIT_MS;
  const requireJwt = deps.requireJwt ?? false;

  /** What needs no slot and no TokenReview: a caller that fails it costs nothing but this. */
  const cheapRefusal = (req: CertifyRequest): CertifyFailure | undefined => {
    if (req.token === '') return fail(status.UNAUTHENTICATED, 'unauthenticated', 'no token in the request');
    const badToken = tokenProblem(req.token, requireJwt);
    if (badToken) return fail(status.UNAUTHENTICATED, 'unauthenticated', `token not accepted: ${badToken}`);
    const badCsr = csrSizeProblem(req.csrPem);
    return badCsr ? fail(status.INVALID_ARGUMENT, 'invalid', badCsr) : undefined;
  };
  /** The outcome penalises or clears the caller's address: before its slot goes to a waiting call. */
  const settled = (caller: string, result: CertifyResult): CertifyResult =>
    penalties.record(caller, result.ok ? 'issued' : result.outcome) === 'imposed'
      ? { ...result, penaltyImposed: true }
      : result;

  const certify = async (req: CertifyRequest, call: CertifyCall): Promise<CertifyResult> => {
    const signal = call.signal ?? new AbortController().signal;
    const budgetMs = reviewBudgetMs(call.msLeft ?? Number.POSITIVE_INFINITY, reviewTimeoutMs);
    const review = await reviewToken(deps.reviewer, req.token, signal, budgetMs);
    if ('ok' in review) return review;
    // All that follows is synchronous: the last moment to notice that nobody waits for the answer.
    if (signal.aborted) return callerGone();
    if (!review.authenticated || !review.username) {
      return fail(
        status.UNAUTHENTICATED,
        'unauthenticated',
        `token not accepted: ${review.error ?? 'not authenticated'}`,
      );
    }
    const caller = callerOf(review);
    const identity = allowedIdentityFor(review.username, rules);
    if (identity === undefined) {
      return fail(
        status.PERMISSION_DENIED,
        'denied',
        `${review.username} may not hold any identity in this cluster`,
        caller,
      );
    }
    const decision = checkCsr(req.csrPem, identity);
    if (!decision.ok) {
      const refusal =
        decision.status === 'invalid'
          ? fail(status.INVALID_ARGUMENT, 'invalid', decision.reason, caller)
          : fail(status.PERMISSION_DENIED, 'denied', `${review.username}: ${decision.reason}`, caller);
      return { ...refusal, identity };
    }
    const now = (deps.now?.() ?? new Date()).getTime();
    const issuer = issuerOf();
    const issuerInfo = certificateInfo(issuer.certPem);
    const unusable = issuerWindowProblem(issuerInfo, now);
    if (unusable) return { ...fail(status.FAILED_PRECONDITION, 'unavailable', unusable, caller), identity };
    const notAfter = leafNotAfter(now, lifetimeMs, issuerInfo.notAfter);
    const leaf = issueLeaf(issuer, {
      uriSans: [identity],
      publicKeyPem: decision.publicKeyPem,
      notBefore: new Date(now - CLOCK_SKEW_ALLOWANCE_MS),
      notAfter,
    });
    return {
      ok: true,
      identity,
      serial: normaliseSerial(certificateInfo(leaf.certPem).serialNumber),
      caller,
      response: {
        certPem: leaf.certPem,
        chainPem: chainOf(leaf.certPem, issuer),
        notAfterUnixMs: notAfter.getTime(),
      },
    };
  };

  return async (req, call = {}) => {
    const caller = call.peer ?? 'unknown';
    const refusal = cheapRefusal(req);
    if (refusal) return settled(caller, refusal);
    // Then a slot, of the caller's share: one address cannot take the slots the others need.
    const leftMs = call.msLeft ?? Number.POSITIVE_INFINITY;
    // Awaited only when the call waits: one that has a slot starts its review at once.
    const granted = slots.acquire(caller, waitBudgetMs(leftMs, maxWaitMs), call.signal);
    const slot = granted instanceof Promise ? await granted : granted;
    if (!slot.ok) {
      const code = slot.outcome === 'cancelled' ? status.CANCELLED : status.RESOURCE_EXHAUSTED;
      return { ...fail(code, slot.outcome, slot.message), ...waited(slot) };
    }
    try {
      const result = await certify(req, { ...call, msLeft: leftMs - (slot.waitedMs ?? 0) });
      return settled(caller, { ...result, ...waited(slot) });
    } finally {
      slots.release(caller);
    }
  };
}

function waited(slot: SlotGrant): Pick<CertifyResult, 'waitedMs'> {
  return slot.waitedMs === undefined ? {} : { waitedMs: slot.waitedMs };
}

/**
 * The TokenReview, stopped when the call ends or after `budgetMs`, whichever first. The reviewer
 * gets the signal to stop its request; a reviewer that ignores it is abandoned all the same.
 */
async function reviewToken(
  reviewer: TokenReviewer,
  token: string,
  call: AbortSignal,
  budgetMs: number,
): Promise<TokenReview | CertifyFailure> {
  const timeout = AbortSignal.timeout(budgetMs);
  const signal = AbortSignal.any([call, timeout]);
  try {
    return await untilAborted(reviewer(token, [IDENTITY_TOKEN_AUDIENCE], signal), signal);
  } catch (err) {
    if (call.aborted) return callerGone();
    // The token may be fine: the API server is what failed, so the caller should retry.
    const message = timeout.aborted
      ? `token review: no answer from the API server within ${budgetMs} ms`
      : `token review failed: ${describeError(err)}`;
    return {
      ...fail(status.UNAVAILABLE, 'unavailable', message),
      tokenReview: timeout.aborted ? 'timeout' : 'error',
    };
  }
}

function fail(
  code: status,
  outcome: CertifyFailure['outcome'],
  message: string,
  caller?: CertifyCaller,
): CertifyFailure {
  return { ok: false, code, outcome, message, ...(caller ? { caller } : {}) };
}

/** The account and, for a pod's bound token, the pod (TokenReview's user.extra). */
function callerOf(review: TokenReview): CertifyCaller {
  const pod = review.extra?.[POD_NAME_EXTRA]?.[0];
  return { user: review.username, ...(pod ? { pod } : {}) };
}

/** Nobody reads this answer (grpc-js drops it); it is for the log. */
function callerGone(): CertifyFailure {
  return fail(status.CANCELLED, 'cancelled', 'the caller cancelled or its deadline passed; nothing signed');
}

/**
 * A projected token is ~1 kB and an 8192-bit CSR ~4.4 kB. gRPC's default of 4 MiB would let anyone
 * who reaches the port have the API server review megabyte tokens; larger requests get
 * RESOURCE_EXHAUSTED before any handler runs.
 */
export const MAX_REQUEST_BYTES = 64 * 1024;

export interface IdentityServerOptions extends CertifyDeps {
  /** Default: all interfaces (`anyAddress`). */
  host?: string;
  /** Default 8080 (shared/DESIGN.md, Ports); 0 picks a free port. */
  port?: number;
  /**
   * The certificate Certify is served with, minted from the issuer (serving-cert.ts). Default DNS
   * names: those of the installed Service (`isthmus-identity.isthmus-system.svc.cluster.local`…).
   */
  serving?: Partial<Omit<ServingCertificateOptions, 'issuer' | 'trustDomain' | 'cluster'>>;
  /**
   * Plaintext grpc.health.v1 for the kubelet's gRPC probes, which speak no TLS (9990 in a pod,
   * PORTS.identityHealth). Absent: no health server.
   */
  health?: { host?: string; port: number };
}

export interface IdentityServer {
  port: number;
  /** The bound health port, when `health` was asked for. */
  healthPort?: number;
  /** The certificate new TLS connections are served with. */
  servingCertificate(): ServingCertificate;
  /** Mints a new serving certificate now, from the issuer in force: call it when the issuer is reloaded. */
  renewServingCertificate(): Promise<ServingCertificate>;
  close(): Promise<void>;
}

export async function startIdentityServer(opts: IdentityServerOptions): Promise<IdentityServer> {
  const handle = createCertifyHandler(opts);
  const issuer = typeof opts.issuer === 'function' ? opts.issuer : () => opts.issuer as KeyPairPem;
  const serving = await ServingCertificateProvider.start({
    dnsNames: identityDnsNames({
      serviceName: IDENTITY_SERVICE_NAME,
      namespace: SYSTEM_NAMESPACE,
      clusterDomain: DEFAULT_CLUSTER_DOMAIN,
    }),
    ...opts.serving,
    issuer,
    trustDomain: opts.trustDomain,
    cluster: opts.cluster,
  });
  const server = new Server({ 'grpc.max_receive_message_length': MAX_REQUEST_BYTES });
  server.addService(identityServiceDefinition, {
    Certify: (
      call: ServerUnaryCall<CertifyRequest, CertifyResponse>,
      callback: (err: Partial<ServiceError> | null, res?: CertifyResponse) => void,
    ) => {
      const arrived = performance.now();
      const durationMs = () => performance.now() - arrived;
      const peer = peerAddress(call.getPeer());
      handle(call.request, { signal: callSignal(call), msLeft: msLeft(call.getDeadline()), peer }).then(
        (result) => {
          if (result.ok) {
            publish({
              outcome: 'issued',
              identity: result.identity,
              serial: result.serial,
              notAfter: new Date(result.response.notAfterUnixMs).toISOString(),
              ...result.caller,
              peer,
              durationMs: durationMs(),
              ...admissionOf(result),
            });
            callback(null, result.response);
          } else {
            const { outcome, message, caller, identity, tokenReview } = result;
            publish({
              outcome,
              reason: message,
              ...caller,
              ...(identity ? { identity } : {}),
              ...(tokenReview ? { tokenReview } : {}),
              peer,
              durationMs: durationMs(),
              ...admissionOf(result),
            });
            callback({ code: result.code, details: message });
          }
        },
        (err: unknown) => {
          publish({ outcome: 'internal', reason: describeError(err), peer, durationMs: durationMs() });
          callback({ code: status.INTERNAL, details: `signing failed: ${describeError(err)}` });
        },
      );
    },
  });
  // The provider is grpc-js's first argument, which it takes as the identity (serving) certificate,
  // whatever its typings name it; no CA provider, so no client certificate is asked for.
  const tls = experimental.createCertificateProviderServerCredentials(serving, null, false);
  const closers: Array<() => Promise<void>> = [async () => serving.stop()];
  const close = async () => {
    for (const c of closers.splice(0).reverse()) await c();
  };
  try {
    const port = await bindServer(server, opts.host ?? anyAddress(), opts.port ?? PORTS.identity, tls);
    closers.push(() => shutdownServer(server));
    const healthPort = opts.health ? await startHealth(opts.health, closers) : undefined;
    return {
      port,
      ...(healthPort === undefined ? {} : { healthPort }),
      servingCertificate: () => serving.current,
      renewServingCertificate: () => serving.renewNow(),
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/** The plaintext health server: SERVING once Certify is bound (it starts after), for '' and Identity. */
async function startHealth(
  at: { host?: string; port: number },
  closers: Array<() => Promise<void>>,
): Promise<number> {
  const health = new Server();
  addHealthService(health, (service) =>
    service === '' || service === 'isthmus.identity.v1.Identity' ? ServingStatus.SERVING : undefined,
  );
  closers.push(() => shutdownServer(health));
  return bindServer(health, at.host ?? anyAddress(), at.port);
}

/** The event's account of the call's admission: its wait for a slot, the penalty it brought. */
function admissionOf(result: CertifyResult): Pick<CertifyEvent, 'waitedMs' | 'penaltyImposed'> {
  return {
    ...(result.waitedMs === undefined ? {} : { waitedMs: result.waitedMs }),
    ...(result.penaltyImposed ? { penaltyImposed: true } : {}),
  };
}

function publish(event: CertifyEvent): void {
  if (certifyChannel.hasSubscribers) certifyChannel.publish(event);
}

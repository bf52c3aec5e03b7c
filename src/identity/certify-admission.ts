/**
 * What a Certify call must pass before it may take one of the service's slots (and so start a
 * TokenReview): cheap checks of the request's shape and size; then a share of the slots per caller
 * address (fair-slots.ts), smaller for an address just refused its credentials (caller-penalty.ts).
 * Without them anyone who reaches :8080 held the slots with garbage tokens, each one a
 * TokenReview against the API server, and the gateways' renewals were refused "busy".
 */
import { isIP } from 'node:net';
import { unmapped } from '../host-port.js';
import { type CertifyFailure, refusal } from './certify-outcome.js';
import type { CertifyRequest } from './protocol.js';

/**
 * A projected service account token is ~1 kB (a JWT: header, claims, RS256 signature), so 16 Ki
 * characters is far beyond any; the 64 KiB message bound (MAX_REQUEST_BYTES) alone would let a
 * caller have the API server review 60 kB tokens.
 */
export const MAX_TOKEN_CHARS = 16 * 1024;

/** An 8192-bit RSA CSR (the largest key Certify signs) is ~4.4 kB of PEM. */
export const MAX_CSR_CHARS = 16 * 1024;

/**
 * Calls one caller address may have in flight or waiting for a slot at once (fair-slots.ts). A
 * gateway makes one call per renewal, so even the replicas of a Deployment on one node behind SNAT
 * rarely have more than a couple at once; one address can then hold no more than 4 of the 32 slots
 * (MAX_CERTIFY_IN_FLIGHT), and 1 while it is penalised (caller-penalty.ts).
 */
export const MAX_CERTIFY_IN_FLIGHT_PER_CALLER = 4;

/** A JWT in compact serialisation (RFC 7515 §7.1): three non-empty base64url segments, no padding. */
const JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/**
 * Why `token` cannot be a service account token, or undefined. Its size always; its shape (a JWT)
 * when `requireJwt`: every token the identity audience can hold is one (a projected service
 * account token), so anything else is refused without asking the API server.
 */
export function tokenProblem(token: string, requireJwt: boolean): string | undefined {
  if (token.length > MAX_TOKEN_CHARS)
    return `${token.length} characters, more than the ${MAX_TOKEN_CHARS} of any service account token`;
  if (requireJwt && !JWT.test(token))
    return 'not a service account token (a JWT: three base64url segments separated by dots)';
  return undefined;
}

/**
 * The refusal of what needs no slot and no TokenReview, or undefined: a caller that fails it costs
 * nothing but this. No token or a token that cannot be one: UNAUTHENTICATED; a CSR too large:
 * INVALID_ARGUMENT.
 */
export function preCheckRefusal(req: CertifyRequest, requireJwt: boolean): CertifyFailure | undefined {
  if (req.token === '') return refusal('unauthenticated', 'no token in the request');
  const badToken = tokenProblem(req.token, requireJwt);
  if (badToken) return refusal('unauthenticated', `token not accepted: ${badToken}`);
  const badCsr = csrSizeProblem(req.csrPem);
  return badCsr ? refusal('invalid', badCsr) : undefined;
}

/** Why `csrPem` is too large to be a CSR Certify would sign, or undefined. */
export function csrSizeProblem(csrPem: string): string | undefined {
  return csrPem.length > MAX_CSR_CHARS
    ? `the CSR has ${csrPem.length} characters, more than the ${MAX_CSR_CHARS} of any CSR Certify signs`
    : undefined;
}

/**
 * The caller's address in a grpc-js peer (`ServerUnaryCall.getPeer()`: `<address>:<port>`, an
 * IPv6 address without brackets, `unknown` when there is no socket): the port goes (a caller opens
 * connections from many), a v4-mapped address is written as IPv4 (a dual-stack listener reports
 * `::ffff:10.1.2.3`). Anything else is returned as it is.
 */
export function peerAddress(peer: string): string {
  const m = /^\[?(.*?)\]?:(\d{1,5})$/.exec(peer);
  if (m && isIP(m[1]!) !== 0) return unmapped(m[1]!);
  return isIP(peer) !== 0 ? unmapped(peer) : peer;
}

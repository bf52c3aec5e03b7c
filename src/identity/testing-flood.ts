/**
 * Test fixtures (test-only) for Certify under a flood of garbage tokens: an API server that knows
 * only the gateway's token, reviews held until the test releases them, and many calls at once from
 * caller addresses the test chooses (certify-admission.test.ts, certify-fairness.test.ts).
 */
import diagnostics from 'node:diagnostics_channel';
import { type Client, Metadata, type ServiceError } from '@grpc/grpc-js';
import { waitFor } from '../wait-for.js';
import {
  type CertifyDeps,
  type CertifyEvent,
  type CertifyResult,
  certifyChannel,
  type IdentityServer,
  POD_NAME_EXTRA,
  startIdentityServer,
  type TokenReviewer,
} from './certify-service.js';
import { createCsr } from './csr.js';
import { createIdentityMetrics, type IdentityMetrics } from './identity-metrics.js';
import { type CertifyRequest, type CertifyResponse, identityServiceDefinition } from './protocol.js';
import { TEST_TRUST_DOMAIN, testIdentityClient, testLeafKey, testPki } from './testing.js';

export const EAST = 'spiffe://cluster.local/cluster/east/gateway';
export const GATEWAY_USER = 'system:serviceaccount:isthmus-system:isthmus-gateway';
export const ATTACKER = '10.42.0.66';
export const GATEWAY = '10.42.1.17';

const b64url = (s: string) => Buffer.from(s).toString('base64url');
/** A JWT-shaped token (a projected service account token is one), `sub` telling them apart. */
export const jwt = (sub: string) =>
  `${b64url('{"alg":"RS256","kid":"test"}')}.${b64url(JSON.stringify({ sub }))}.c2ln`;
export const GATEWAY_TOKEN = jwt('gateway');
/** JWT-shaped, so past every cheap check: only a TokenReview tells it is nobody's. */
export const garbage = (i: number) => jwt(`garbage-${i}`);

/** As the API server: the gateway's token is the gateway's, any other is refused. */
export const reviewer: TokenReviewer = async (token) =>
  token === GATEWAY_TOKEN
    ? { authenticated: true, username: GATEWAY_USER, extra: { [POD_NAME_EXTRA]: ['isthmus-gateway-0'] } }
    : { authenticated: false, error: 'token expired' };

/**
 * `reviewer`, but the review of any token other than the gateway's is held until `release()`: a
 * garbage call keeps its slot as long as the test wants. Records every token reviewed.
 */
export function gated() {
  const reviewed: string[] = [];
  const waiting: (() => void)[] = [];
  const held: TokenReviewer = (token, audiences) => {
    reviewed.push(token);
    if (token === GATEWAY_TOKEN) return reviewer(token, audiences);
    return new Promise<void>((resolve) => waiting.push(resolve)).then(() => reviewer(token, audiences));
  };
  return {
    reviewer: held,
    reviewed,
    waiting,
    release: () => {
      for (const go of waiting.splice(0)) go();
    },
  };
}

export const eastDeps = () => ({
  issuer: testPki().issuers.east,
  trustDomain: TEST_TRUST_DOMAIN,
  cluster: 'east',
  // A held review stays held however slow this machine is: no slot frees itself by a timeout.
  reviewTimeoutMs: 120_000,
});
let csr: string | undefined;
/** One CSR of the test leaf key for every call (an RSA signature each: not one per call). */
export const csrPem = () => {
  csr ??= createCsr(testLeafKey().privateKeyPem, EAST);
  return csr;
};

/** Starts `calls`, and records each answer as it comes. */
export function flood(calls: Array<() => Promise<CertifyResult>>) {
  const answers: CertifyResult[] = [];
  const done = Promise.all(
    calls.map(async (call) => {
      const r = await call();
      answers.push(r);
      return r;
    }),
  );
  return { answers, done, size: calls.length };
}

/** A raw Certify call on `client`'s channel: the gRPC status code, or 'issued'. */
export function certifyCode(client: Client, token: string): Promise<number | 'issued'> {
  const m = identityServiceDefinition.Certify;
  return new Promise((resolve) =>
    client.makeUnaryRequest(
      m.path,
      (r: CertifyRequest) => m.requestSerialize(r),
      (b: Buffer) => m.responseDeserialize(b),
      { token, csrPem: csrPem() },
      new Metadata({ waitForReady: true }),
      { deadline: Date.now() + 120_000 },
      (err: ServiceError | null, res?: CertifyResponse) => resolve(err ? err.code : res ? 'issued' : -1),
    ),
  );
}

/** Releases held reviews until every call of `calls` is answered (calls that waited for a slot included). */
export async function answered(
  gate: ReturnType<typeof gated>,
  calls: ReturnType<typeof flood>,
): Promise<void> {
  await waitFor('every call to be answered', () => {
    gate.release();
    return calls.answers.length === calls.size;
  });
}

/** What a test of the gRPC path gets: the server, its metrics, and a client at each address. */
export interface FloodServer {
  gate: ReturnType<typeof gated>;
  server: IdentityServer;
  metrics: IdentityMetrics;
  /** Calls from [::1]. */
  attacker: Client;
  /** Calls from 127.0.0.1. */
  gateway: Client;
  /** Every CertifyEvent published while `run` runs. */
  events: CertifyEvent[];
}

/**
 * Runs `run` against an identity server (requireJwt, held reviews, `deps` on top) whose callers are
 * two loopback addresses, then closes it all.
 */
export async function withFloodServer(
  deps: Partial<CertifyDeps>,
  run: (f: FloodServer) => Promise<void>,
): Promise<void> {
  const gate = gated();
  const server = await startIdentityServer({
    ...eastDeps(),
    reviewer: gate.reviewer,
    requireJwt: true,
    ...deps,
    port: 0,
  });
  const metrics = createIdentityMetrics({ identities: [EAST] });
  const attacker = testIdentityClient(`[::1]:${server.port}`);
  const gateway = testIdentityClient(`127.0.0.1:${server.port}`);
  const events: CertifyEvent[] = [];
  const onEvent = (e: unknown) => events.push(e as CertifyEvent);
  diagnostics.subscribe(certifyChannel.name, onEvent);
  try {
    await run({ gate, server, metrics, attacker, gateway, events });
  } finally {
    diagnostics.unsubscribe(certifyChannel.name, onEvent);
    metrics.close();
    attacker.close();
    gateway.close();
    gate.release();
    await server.close();
  }
}

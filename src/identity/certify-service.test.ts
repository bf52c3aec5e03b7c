import { createPrivateKey, X509Certificate } from 'node:crypto';
import diagnostics from 'node:diagnostics_channel';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isIsthmusError } from '../errors.js';
import { within } from '../kube/test-support.js';
import { waitFor } from '../wait-for.js';
import { certificateInfo, gatewayIdentityOf, verifyChain } from './ca.js';
import { reviewBudgetMs, waitBudgetMs } from './call-deadline.js';
import { requestCertificate } from './certify-client.js';
import {
  certifyChannel,
  createCertifyHandler,
  type IdentityServer,
  POD_NAME_EXTRA,
  startIdentityServer,
  type TokenReviewer,
} from './certify-service.js';
import { createCsr } from './csr.js';
import { checkHealth, ServingStatus } from './health.js';
import { createIdentityMetrics } from './identity-metrics.js';
import type { LeafKeyType } from './keys.js';
import { splitPem } from './pem.js';
import {
  presentedChain,
  samplesOf,
  TEST_TRUST_DOMAIN,
  testIdentityTrust,
  testLeafKey,
  testPki,
  testServingCertificate,
} from './testing.js';
import { runOpenssl } from './testing-openssl.js';
import { keyMismatch } from './validate.js';

const EAST = 'spiffe://cluster.local/cluster/east/gateway';
const GATEWAY_CALLER = {
  user: 'system:serviceaccount:isthmus-system:isthmus-gateway',
  pod: 'isthmus-gateway-5d8c7b9f4-x2kqp',
};
const WEST = 'spiffe://cluster.local/cluster/west/gateway';
/** What east's gateway requires of its identity service: chained to the anchor, east's identity ID. */
const SERVER = testIdentityTrust('east');
/** A TLS check that takes any server chained to the anchor, for raw gRPC calls. */
const ANY_SERVER = {
  caPem: SERVER.anchorPem,
  identityProblem: () => undefined,
  serverName: 'isthmus-identity',
};

/** A stand-in for the TokenReview API: a fixed table of tokens. */
const tokens: Record<string, string> = {
  'gateway-token': 'system:serviceaccount:isthmus-system:isthmus-gateway',
  'web-token': 'system:serviceaccount:default:web',
};
const reviewer: TokenReviewer = async (token, audiences) => {
  if (token === 'explode') throw new Error('connect ECONNREFUSED 10.96.0.1:443');
  // What kube-apiserver answers for a token of the account but not of this audience.
  if (token === 'api-token' || !audiences.includes('identity.isthmus.dev'))
    return {
      authenticated: false,
      error:
        'token audiences ["https://kubernetes.default.svc.cluster.local"] is invalid for the target audiences ["identity.isthmus.dev"]',
    };
  const username = tokens[token];
  if (!username) return { authenticated: false, error: 'token expired' };
  // As kube-apiserver for a projected token: bound to the pod the kubelet asked for it.
  const pod = token === 'gateway-token' ? 'isthmus-gateway-5d8c7b9f4-x2kqp' : 'web-7c9d8f6b5-q4lzm';
  return { authenticated: true, username, extra: { [POD_NAME_EXTRA]: [pod] } };
};

let server: IdentityServer;
let address: string;
let healthAddress: string;
const events: unknown[] = [];
const onEvent = (e: unknown) => events.push(e);

beforeAll(async () => {
  server = await startIdentityServer({
    issuer: testPki().issuers.east,
    trustDomain: TEST_TRUST_DOMAIN,
    cluster: 'east',
    reviewer,
    host: '127.0.0.1',
    port: 0,
    lifetimeMs: 60 * 60 * 1000,
    health: { host: '127.0.0.1', port: 0 },
  });
  address = `127.0.0.1:${server.port}`;
  healthAddress = `127.0.0.1:${server.healthPort}`;
  diagnostics.subscribe(certifyChannel.name, onEvent);
});

afterAll(async () => {
  diagnostics.unsubscribe(certifyChannel.name, onEvent);
  await server?.close();
});

async function failure(opts: Parameters<typeof requestCertificate>[0]) {
  return requestCertificate(opts).then(
    () => {
      throw new Error('expected the request to fail');
    },
    (err: unknown) => err as Error & { code: string; cause: { code: number; details: string } },
  );
}

describe('Certify', () => {
  it('signs a good CSR with the issuer: the gateway identity, the configured lifetime, chained to the anchor', async () => {
    const issued = await requestCertificate({
      server: SERVER,
      address,
      token: 'gateway-token',
      identity: EAST,
    });
    expect(gatewayIdentityOf(issued.certPem)).toBe(EAST);
    const info = certificateInfo(issued.certPem);
    expect(info.isCa).toBe(false);
    expect(Math.abs(info.notAfter.getTime() - Date.now() - 3600_000)).toBeLessThan(5_000);
    expect(issued.notAfter.getTime()).toBe(info.notAfter.getTime());
    const chain = splitPem(issued.chainPem);
    expect(chain[0]).toBe(issued.certPem);
    expect(verifyChain(chain[0]!, chain.slice(1), [testPki().anchor.certPem])).toEqual({ ok: true });
    expect(events).toContainEqual(expect.objectContaining({ outcome: 'issued', identity: EAST }));
  });

  it('publishes the serial, notAfter and caller of every certificate it issues, and the caller of a refusal', async () => {
    events.length = 0;
    const issued = await requestCertificate({
      server: SERVER,
      address,
      token: 'gateway-token',
      identity: EAST,
    });
    const info = certificateInfo(issued.certPem);
    // The serial as `isthmus certs revoke --serial` takes it: lowercase hex, no leading zeros.
    const serial = info.serialNumber.toLowerCase().replace(/^0+(?=.)/, '');
    expect(events).toEqual([
      {
        outcome: 'issued',
        identity: EAST,
        serial,
        // The issuer that signed it, the same way: the audit log names it (issuer=).
        issuer: certificateInfo(testPki().issuers.east.certPem)
          .serialNumber.toLowerCase()
          .replace(/^0+(?=.)/, ''),
        notAfter: info.notAfter.toISOString(),
        durationMs: expect.any(Number),
        ...GATEWAY_CALLER,
        peer: '127.0.0.1',
      },
    ]);
    await failure({ server: SERVER, address, token: 'web-token' });
    expect(events[1]).toEqual({
      outcome: 'denied',
      reason: 'system:serviceaccount:default:web may not hold any identity in this cluster',
      user: 'system:serviceaccount:default:web',
      pod: 'web-7c9d8f6b5-q4lzm',
      peer: '127.0.0.1',
      durationMs: expect.any(Number),
      // The issue before cleared the address's penalty: this refusal imposes a new one.
      penaltyImposed: true,
    });
  });

  it('assigns the identity when the CSR names none', async () => {
    const issued = await requestCertificate({ server: SERVER, address, token: 'gateway-token' });
    expect(gatewayIdentityOf(issued.certPem)).toBe(EAST);
  });

  it("refuses a CSR for someone else's identity with PERMISSION_DENIED", async () => {
    const err = await failure({ server: SERVER, address, token: 'gateway-token', identity: WEST });
    expect(isIsthmusError(err, 'IDENTITY_DENIED')).toBe(true);
    expect(err.cause.code).toBe(7); // PERMISSION_DENIED
    expect(err.message).toContain(`may only hold ${EAST}`);
  });

  it('refuses an account that may hold no identity with PERMISSION_DENIED', async () => {
    const err = await failure({ server: SERVER, address, token: 'web-token' });
    expect(err.cause.code).toBe(7);
    expect(err.message).toContain('system:serviceaccount:default:web may not hold any identity');
  });

  it.each([
    ['a token the API rejects', 'stolen', /token not accepted: token expired/],
    ['no token', '', /no token/],
    [
      "the account's API token (not bound to the identity audience)",
      'api-token',
      /token not accepted: token audiences .* is invalid for the target audiences \["identity.isthmus.dev"\]/,
    ],
  ])('refuses %s with UNAUTHENTICATED', async (_what, token, message) => {
    const err = await failure({ server: SERVER, address, token });
    expect(isIsthmusError(err, 'IDENTITY_DENIED')).toBe(true);
    expect(err.cause.code).toBe(16); // UNAUTHENTICATED
    expect(err.message).toMatch(message);
  });

  it('answers UNAVAILABLE when the token cannot be reviewed', async () => {
    const err = await failure({ server: SERVER, address, token: 'explode' });
    expect(isIsthmusError(err, 'IDENTITY_UNAVAILABLE')).toBe(true);
    expect(err.cause.code).toBe(14);
    expect(err.message).toContain('ECONNREFUSED');
  });

  it('answers INVALID_ARGUMENT to a garbage CSR', async () => {
    const { callUnary } = await import('./grpc-util.js');
    const { identityServiceDefinition } = await import('./protocol.js');
    const err = await callUnary(
      address,
      identityServiceDefinition.Certify,
      { token: 'gateway-token', csrPem: 'junk' },
      5000,
      { tls: ANY_SERVER },
    )
      .then(() => undefined)
      .catch((e: { code: number; details: string }) => e);
    expect(err).toMatchObject({ code: 3, details: expect.stringMatching(/not a PEM PKCS#10/) });
  });

  it('reports an unreachable service as IDENTITY_UNAVAILABLE within the deadline', async () => {
    const err = await failure({
      server: SERVER,
      address: '127.0.0.1:1',
      token: 'gateway-token',
      timeoutMs: 500,
    });
    expect(isIsthmusError(err, 'IDENTITY_UNAVAILABLE')).toBe(true);
  });
});

describe('ECDSA P-256 leaves through Certify', () => {
  const openssl = (files: Record<string, string>, ...args: string[]) => runOpenssl(files, args);

  const eastLeaf = (keyType?: LeafKeyType) =>
    requestCertificate({
      server: SERVER,
      address,
      token: 'gateway-token',
      identity: EAST,
      ...(keyType && { keyType }),
    });

  it("the gateway's key is P-256: its leaf holds it, asserts digitalSignature only, and openssl verifies it", async () => {
    const issued = await eastLeaf();
    const leaf = new X509Certificate(issued.certPem);
    expect(createPrivateKey(issued.keyPem).asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(leaf.publicKey.asymmetricKeyType).toBe('ec');
    expect(keyMismatch(leaf, issued.keyPem)).toBeUndefined();
    const text = openssl({ 'leaf.pem': issued.certPem }, 'x509', '-noout', '-text', '-in', 'leaf.pem').output;
    expect(text).toMatch(/X509v3 Key Usage: critical\s+Digital Signature\n/);
    expect(text).toContain(`URI:${EAST}`);
    const files = {
      'anchor.pem': testPki().anchor.certPem,
      'chain.pem': issued.chainPem,
      'leaf.pem': issued.certPem,
    };
    const verdict = openssl(files, 'verify', '-CAfile', 'anchor.pem', '-untrusted', 'chain.pem', 'leaf.pem');
    expect(verdict.output).toContain('leaf.pem: OK');
  });

  it('an RSA 2048 key still, when asked', async () => {
    const issued = await eastLeaf('rsa-2048');
    const leaf = new X509Certificate(issued.certPem);
    expect(leaf.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(keyMismatch(leaf, issued.keyPem)).toBeUndefined();
  });

  it('identity serves Certify with a P-256 certificate of its own', async () => {
    const { leaf } = await presentedChain(address, testPki().anchor.certPem);
    expect(leaf.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
  });
});

describe('metrics (identity-metrics.ts) of real Certify calls', () => {
  const PREFIX = 'isthmus_identity_certify_requests_total';
  /** Every result from the first scrape: issued per identity the rules grant, refusals under "none". */
  const none = (result: string) => `{result="${result}",identity="none"}`;
  const untouched = Object.fromEntries(
    [
      'denied',
      'invalid',
      'cancelled',
      'busy',
      'throttled',
      'penalised',
      'internal',
      'unauthenticated',
      'unavailable',
    ].map((r) => [none(r), 0]),
  );

  it('counts each call once by result, the identity its account holds, its latency, and TokenReview failures apart', async () => {
    const metrics = createIdentityMetrics({ identities: [EAST] });
    try {
      expect(samplesOf(await metrics.render(), PREFIX)).toEqual({
        [`{result="issued",identity="${EAST}"}`]: 0,
        ...untouched,
      });
      await requestCertificate({ server: SERVER, address, token: 'gateway-token', identity: EAST });
      await failure({ server: SERVER, address, token: 'stolen' });
      // The gateway's account asks for west's identity: refused, under the identity it may hold.
      await failure({ server: SERVER, address, token: 'gateway-token', identity: WEST });
      // The API server cannot review the token: unavailable, and a TokenReview failure.
      await failure({ server: SERVER, address, token: 'explode' });
      const text = await metrics.render();
      expect(samplesOf(text, PREFIX)).toEqual({
        ...untouched,
        [`{result="issued",identity="${EAST}"}`]: 1,
        [none('unauthenticated')]: 1,
        [none('unavailable')]: 1,
        [`{result="denied",identity="${EAST}"}`]: 1,
      });
      expect(samplesOf(text, 'isthmus_identity_certify_duration_seconds_count')).toEqual({
        '{result="issued"}': 1,
        '{result="unauthenticated"}': 1,
        '{result="denied"}': 1,
        '{result="unavailable"}': 1,
      });
      expect(samplesOf(text, 'isthmus_identity_token_review_failures_total')).toEqual({
        '{reason="timeout"}': 0,
        '{reason="error"}': 1,
      });
    } finally {
      metrics.close();
    }
    // Closed: no longer counts.
    await failure({ server: SERVER, address, token: 'stolen' });
    expect(samplesOf(await metrics.render(), PREFIX)[none('unauthenticated')]).toBe(1);
  });

  it('exports the expiry and lifetime of the issuer and of the serving certificate in force, read at each scrape', async () => {
    const issuer = testPki().issuers.east;
    const metrics = createIdentityMetrics({
      certificates: { issuer: () => issuer.certPem, serving: () => server.servingCertificate().certPem },
    });
    try {
      const text = await metrics.render();
      const seconds = (d: Date) => d.getTime() / 1000;
      const [i, s] = [certificateInfo(issuer.certPem), certificateInfo(server.servingCertificate().certPem)];
      expect(samplesOf(text, 'isthmus_identity_certificate_expiration_timestamp_seconds')).toEqual({
        '{certificate="issuer"}': seconds(i.notAfter),
        '{certificate="serving"}': seconds(s.notAfter),
      });
      expect(samplesOf(text, 'isthmus_identity_certificate_lifetime_seconds')).toEqual({
        '{certificate="issuer"}': seconds(i.notAfter) - seconds(i.notBefore),
        '{certificate="serving"}': seconds(s.notAfter) - seconds(s.notBefore),
      });
      // The serving certificate renewed (an issuer reload does this): the next scrape follows it.
      const renewed = await server.renewServingCertificate();
      const after = samplesOf(
        await metrics.render(),
        'isthmus_identity_certificate_expiration_timestamp_seconds',
      );
      expect(after['{certificate="serving"}']).toBe(seconds(certificateInfo(renewed.certPem).notAfter));
    } finally {
      metrics.close();
    }
  });

  it('counts a call whose signing throws as internal (INTERNAL to the caller)', async () => {
    let broken = false;
    const east = testPki().issuers.east;
    const failing = await startIdentityServer({
      ...eastDeps(),
      issuer: () => {
        if (broken) throw new Error('the issuer key is unreadable');
        return east;
      },
      reviewer,
      host: '127.0.0.1',
      port: 0,
    });
    const metrics = createIdentityMetrics();
    try {
      broken = true;
      const err = await failure({
        server: SERVER,
        address: `127.0.0.1:${failing.port}`,
        token: 'gateway-token',
      });
      expect(err.cause.code).toBe(13); // INTERNAL
      expect(samplesOf(await metrics.render(), PREFIX)[none('internal')]).toBe(1);
    } finally {
      metrics.close();
      await failing.close();
    }
  });

  it('has no certificate sample before a certificate is known (an expiry of 0 would fire the expiry alert)', async () => {
    const metrics = createIdentityMetrics({ certificates: { serving: () => undefined } });
    try {
      const text = await metrics.render();
      expect(samplesOf(text, 'isthmus_identity_certificate_expiration_timestamp_seconds')).toEqual({});
      expect(samplesOf(text, 'isthmus_identity_crl_file_refused')).toEqual({ '': 0 });
      expect(samplesOf(text, 'isthmus_identity_issuer_file_refused')).toEqual({ '': 0 });
    } finally {
      metrics.close();
    }
  });
});

describe('health', () => {
  it('is SERVING on the plaintext health port (as the kubelet asks) for the server and the Identity service, NOT_FOUND for others', async () => {
    expect(await checkHealth(healthAddress)).toBe(ServingStatus.SERVING);
    expect(await checkHealth(healthAddress, { service: 'isthmus.identity.v1.Identity' })).toBe(
      ServingStatus.SERVING,
    );
    await expect(checkHealth(healthAddress, { service: 'nope' })).rejects.toMatchObject({ code: 5 });
  });

  it('listens on every interface when no host is given: IPv4 and IPv6 callers (an IPv6-only cluster) both reach Certify and health', async () => {
    const anywhere = await startIdentityServer({
      issuer: testPki().issuers.east,
      trustDomain: TEST_TRUST_DOMAIN,
      cluster: 'east',
      reviewer,
      port: 0,
      health: { port: 0 },
    });
    try {
      expect(await checkHealth(`127.0.0.1:${anywhere.healthPort}`)).toBe(ServingStatus.SERVING);
      expect(await checkHealth(`[::1]:${anywhere.healthPort}`)).toBe(ServingStatus.SERVING);
      for (const host of ['127.0.0.1', '[::1]']) {
        const issued = await requestCertificate({
          server: SERVER,
          address: `${host}:${anywhere.port}`,
          token: 'gateway-token',
        });
        expect(gatewayIdentityOf(issued.certPem)).toBe(EAST);
      }
    } finally {
      await anywhere.close();
    }
  });
});

describe('createCertifyHandler', () => {
  it('never issues past the issuer: the leaf stops when the issuer does', async () => {
    const issuer = testPki().issuers.east;
    const issuerNotAfter = certificateInfo(issuer.certPem).notAfter;
    const handle = createCertifyHandler({
      issuer,
      trustDomain: TEST_TRUST_DOMAIN,
      cluster: 'east',
      reviewer,
      now: () => new Date(issuerNotAfter.getTime() - 3600_000),
    });
    const result = await handle({
      token: 'gateway-token',
      csrPem: createCsr(testLeafKey().privateKeyPem, EAST),
    });
    expect(result.ok && result.response.notAfterUnixMs).toBe(issuerNotAfter.getTime());
    expect(result.ok && certificateInfo(result.response.certPem).notAfter).toEqual(issuerNotAfter);
  });
});

describe('createCertifyHandler: an issuer outside its validity', () => {
  const issuer = testPki().issuers.east;
  const { notBefore, notAfter } = certificateInfo(issuer.certPem);
  it.each([
    ['expired', new Date(notAfter.getTime() + 60_000), /issuer .* expired at/],
    ['not yet valid', new Date(notBefore.getTime() - 3600_000), /issuer .* not valid before/],
  ])(
    'signs nothing with an issuer that is %s: FAILED_PRECONDITION, not a dead leaf',
    async (_what, at, reason) => {
      const handle = createCertifyHandler({
        issuer,
        trustDomain: TEST_TRUST_DOMAIN,
        cluster: 'east',
        reviewer,
        now: () => at,
      });
      const result = await handle({
        token: 'gateway-token',
        csrPem: createCsr(testLeafKey().privateKeyPem, EAST),
      });
      expect(result).toMatchObject({
        ok: false,
        code: 9,
        outcome: 'unavailable',
        message: expect.stringMatching(reason),
      });
    },
  );
});

describe('message size', () => {
  it('refuses a request far larger than a token and a CSR with RESOURCE_EXHAUSTED, before any TokenReview', async () => {
    const reviewed: number[] = [];
    const counting: TokenReviewer = async (token, audiences) => {
      reviewed.push(token.length);
      return reviewer(token, audiences);
    };
    const small = await startIdentityServer({
      issuer: testPki().issuers.east,
      trustDomain: TEST_TRUST_DOMAIN,
      cluster: 'east',
      reviewer: counting,
      host: '127.0.0.1',
      port: 0,
    });
    try {
      // Anyone who reaches the port could otherwise have the API server review 4 MiB tokens.
      const err = await failure({
        server: SERVER,
        address: `127.0.0.1:${small.port}`,
        token: 'x'.repeat(1 << 20),
      });
      expect(err.cause.code).toBe(8); // RESOURCE_EXHAUSTED
      expect(reviewed).toEqual([]);
      // A real token (~1 kB) and an 8192-bit CSR (~4.4 kB) still pass.
      const issued = await requestCertificate({
        server: SERVER,
        address: `127.0.0.1:${small.port}`,
        token: 'gateway-token',
      });
      expect(gatewayIdentityOf(issued.certPem)).toBe(EAST);
    } finally {
      await small.close();
    }
  });
});

describe('requestCertificate checks what a Certify service answers', () => {
  /** A Certify service that certifies the CSR's key with `uriSans`, whatever it asked for. */
  async function misissuing(uriSans: string[]): Promise<{ address: string; close(): void }> {
    const { Server, ServerCredentials } = await import('@grpc/grpc-js');
    const { identityServiceDefinition } = await import('./protocol.js');
    const { checkCsr } = await import('./csr.js');
    const { issueLeaf, chainOf } = await import('./ca.js');
    const issuer = testPki().issuers.east;
    const serving = testServingCertificate(issuer, [SERVER.serverId]);
    const server = new Server();
    server.addService(identityServiceDefinition, {
      Certify: (call: { request: { csrPem: string } }, callback: (e: null, r: unknown) => void) => {
        const decision = checkCsr(call.request.csrPem, EAST);
        if (!decision.ok) throw new Error(decision.reason);
        const leaf = issueLeaf(issuer, { uriSans, publicKeyPem: decision.publicKeyPem });
        callback(null, { certPem: leaf.certPem, chainPem: chainOf(leaf.certPem, issuer), notAfterUnixMs: 1 });
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(
        '127.0.0.1:0',
        ServerCredentials.createSsl(
          null,
          [{ cert_chain: Buffer.from(serving.chainPem), private_key: Buffer.from(serving.keyPem) }],
          false,
        ),
        (e, p) => (e ? reject(e) : resolve(p)),
      ),
    );
    return { address: `127.0.0.1:${port}`, close: () => server.forceShutdown() };
  }

  it.each([
    ['a second URI SAN', [EAST, WEST]],
    ['a longer identity that starts with the one asked for', [`${EAST}-x`]],
  ])('refuses a certificate with %s: peers would refuse it, or it is not ours', async (_what, uriSans) => {
    const fake = await misissuing(uriSans);
    try {
      const err = await failure({
        server: SERVER,
        address: fake.address,
        token: 'gateway-token',
        identity: EAST,
      });
      expect(isIsthmusError(err, 'CERT_INVALID')).toBe(true);
      expect(err.message).toContain(`without exactly ${EAST}`);
    } finally {
      fake.close();
    }
  });
});

const request = () => ({ token: 'gateway-token', csrPem: createCsr(testLeafKey().privateKeyPem, EAST) });
const eastDeps = () => ({ issuer: testPki().issuers.east, trustDomain: TEST_TRUST_DOMAIN, cluster: 'east' });

describe('deadlines: a TokenReview that never answers', () => {
  /** A reviewer whose API server hangs: it never answers, and records the signal it was given. */
  function hanging() {
    const signals: AbortSignal[] = [];
    const reviewer: TokenReviewer = (_token, _audiences, signal) => {
      if (signal) signals.push(signal);
      return new Promise(() => {});
    };
    return { reviewer, signals };
  }

  it('answers UNAVAILABLE once the review has taken reviewTimeoutMs, and aborts the review', async () => {
    const { reviewer, signals } = hanging();
    const handle = createCertifyHandler({ ...eastDeps(), reviewer, reviewTimeoutMs: 100 });
    const result = await handle(request());
    expect(result).toMatchObject({
      ok: false,
      code: 14, // UNAVAILABLE
      outcome: 'unavailable',
      message: expect.stringMatching(/token review: no answer from the API server within 100 ms/),
      tokenReview: 'timeout',
    });
    expect(signals).toHaveLength(1);
    expect(signals[0]!.aborted).toBe(true);
  });

  it('stops when the caller gives up: CANCELLED, the review aborted, nothing signed', async () => {
    const { reviewer, signals } = hanging();
    const handle = createCertifyHandler({ ...eastDeps(), reviewer });
    const caller = new AbortController();
    const pending = handle(request(), { signal: caller.signal });
    // The review is in flight (the handler starts it without waiting on anything): now the caller leaves.
    await waitFor('the token review to start', () => signals.length === 1, 5_000);
    caller.abort();
    expect(await within(pending, 5_000, 'the handler to answer once the caller gave up')).toMatchObject({
      ok: false,
      code: 1,
      outcome: 'cancelled',
    });
    expect(signals[0]!.aborted).toBe(true);
  });

  it('answers the gateway UNAVAILABLE with a reason before its deadline, not DEADLINE_EXCEEDED', async () => {
    const { reviewer, signals } = hanging();
    const slow = await startIdentityServer({ ...eastDeps(), reviewer, host: '127.0.0.1', port: 0 });
    try {
      const err = await failure({
        server: SERVER,
        address: `127.0.0.1:${slow.port}`,
        token: 'gateway-token',
        timeoutMs: 1500,
      });
      expect(err.cause.code).toBe(14);
      expect(err.message).toMatch(/no answer from the API server within \d+ ms/);
      expect(signals[0]!.aborted).toBe(true);
    } finally {
      await slow.close();
    }
  });

  it('aborts the review when the gateway cancels the call', async () => {
    const { reviewer, signals } = hanging();
    const slow = await startIdentityServer({ ...eastDeps(), reviewer, host: '127.0.0.1', port: 0 });
    const { Client, Metadata } = await import('@grpc/grpc-js');
    const { identityServiceDefinition } = await import('./protocol.js');
    const { serverNameOptions, verifiedCredentials } = await import('./grpc-tls.js');
    const target = `127.0.0.1:${slow.port}`;
    const client = new Client(
      target,
      verifiedCredentials(ANY_SERVER, () => {}),
      serverNameOptions(target, ANY_SERVER.serverName),
    );
    try {
      const method = identityServiceDefinition.Certify;
      const call = client.makeUnaryRequest(
        method.path,
        (m: ReturnType<typeof request>) => method.requestSerialize(m),
        (b: Buffer) => method.responseDeserialize(b),
        request(),
        new Metadata(),
        { deadline: Date.now() + 30_000 },
        () => {},
      );
      await waitFor('the review to start', () => signals.length === 1, 3000);
      call.cancel();
      await waitFor('the review to be aborted', () => signals[0]!.aborted, 3000);
    } finally {
      client.close();
      await slow.close();
    }
  });
});

describe('reviewBudgetMs', () => {
  it.each([
    // [ms left before the caller's deadline, the longest review allowed, the review's budget]
    [10_000, 5_000, 5_000], // the gateway's 10 s: the bound applies
    [3_000, 5_000, 2_000], // keeps a second to answer and sign
    [1_500, 5_000, 750], // a short deadline: half of it, not nothing
    [1_489, 5_000, 744], // whole milliseconds: AbortSignal.timeout throws on 744.5
    [Number.POSITIVE_INFINITY, 5_000, 5_000], // no deadline
    [-100, 5_000, 0], // already past
  ])('%d ms left, at most %d ms → %d ms', (left, max, budget) => {
    expect(reviewBudgetMs(left, max)).toBe(budget);
  });
});

describe('waitBudgetMs', () => {
  it.each([
    // [ms left before the caller's deadline, the longest wait allowed, the wait for a slot]
    [10_000, 2_000, 2_000], // the gateway's 10 s: the bound applies, and a 5 s review still fits
    [3_000, 2_000, 1_000], // half of what is left after the answer's second: the review keeps as much
    [1_001, 2_000, 0], // whole milliseconds
    [1_000, 2_000, 0], // nothing left to wait with: busy at once
    [Number.POSITIVE_INFINITY, 2_000, 2_000], // no deadline
    [-100, 2_000, 0], // already past
  ])('%d ms left, at most %d ms → %d ms', (left, max, budget) => {
    expect(waitBudgetMs(left, max)).toBe(budget);
  });
});

describe('concurrency', () => {
  /** `reviewer`, answering only when released: calls stay in flight until then. */
  function gated() {
    const waiting: (() => void)[] = [];
    const held: TokenReviewer = (token, audiences) =>
      new Promise<void>((resolve) => waiting.push(resolve)).then(() => reviewer(token, audiences));
    return {
      reviewer: held,
      waiting,
      release: () => {
        for (const go of waiting.splice(0)) go();
      },
    };
  }

  it('refuses calls beyond maxInFlight with RESOURCE_EXHAUSTED before any review when none may wait, and takes them again once some end', async () => {
    const gate = gated();
    const handle = createCertifyHandler({
      ...eastDeps(),
      reviewer: gate.reviewer,
      maxInFlight: 2,
      maxWaiting: 0,
    });
    const first = [handle(request()), handle(request())];
    expect(await handle(request())).toMatchObject({
      ok: false,
      code: 8, // RESOURCE_EXHAUSTED
      outcome: 'busy',
      message: 'busy: 2 Certify calls in flight and 0 waiting for a slot; retry later',
    });
    expect(gate.waiting).toHaveLength(2);
    gate.release();
    for (const result of await Promise.all(first)) expect(result.ok).toBe(true);
    const again = handle(request());
    gate.release();
    expect((await again).ok).toBe(true);
  });

  it('a gateway told "busy" after its wait for a slot gets a retryable IDENTITY_UNAVAILABLE (its rotator backs off and retries)', async () => {
    const gate = gated();
    // The first call holds the only slot until released, however long the second call takes to
    // come (its key is generated first, which a loaded machine can stretch past the default 5 s
    // review bound and 10 s deadline: the first call then timed out, freeing the slot).
    const busy = await startIdentityServer({
      ...eastDeps(),
      reviewer: gate.reviewer,
      reviewTimeoutMs: 120_000,
      maxInFlight: 1,
      maxWaitMs: 50,
      host: '127.0.0.1',
      port: 0,
    });
    const address = `127.0.0.1:${busy.port}`;
    try {
      const first = requestCertificate({
        server: SERVER,
        address,
        token: 'gateway-token',
        timeoutMs: 120_000,
      });
      await waitFor('the first call to be in review', () => gate.waiting.length === 1, 5000);
      const err = await failure({ server: SERVER, address, token: 'gateway-token' });
      expect(isIsthmusError(err, 'IDENTITY_UNAVAILABLE')).toBe(true);
      expect((err as unknown as { terminal: boolean }).terminal).toBe(false);
      expect(err.cause.code).toBe(8);
      expect(err.message).toContain('busy: no Certify slot came free within 50 ms');
      gate.release();
      expect(gatewayIdentityOf((await first).certPem)).toBe(EAST);
    } finally {
      await busy.close();
    }
  });
});

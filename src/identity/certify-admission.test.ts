import { describe, expect, it } from 'vitest';
import { within } from '../kube/test-support.js';
import { waitFor } from '../wait-for.js';
import { gatewayIdentityOf } from './ca.js';
import { MAX_CSR_CHARS, MAX_TOKEN_CHARS, peerAddress, preCheckRefusal } from './certify-admission.js';
import { logCertifyOutcomes } from './certify-log.js';
import { type CertifyEvent, certifyChannel, createCertifyHandler } from './certify-service.js';
import { createIdentityMetrics } from './identity-metrics.js';
import { samplesOf } from './testing.js';
import {
  ATTACKER,
  certifyCode,
  csrPem,
  EAST,
  eastDeps,
  flood,
  GATEWAY,
  GATEWAY_TOKEN,
  GATEWAY_USER,
  garbage,
  gated,
  reviewer,
  withFloodServer,
} from './testing-flood.js';

/**
 * Finding 5 of the security review: unauthenticated callers with garbage tokens filled Certify's
 * 32 slots (each with a TokenReview and a log line), and a gateway's renewals were refused "busy".
 * What Certify now does before a call takes a slot, and how it shares the slots between callers.
 */

describe('Certify for a call whose deadline has passed by the time it has a slot', () => {
  it('asks the API server nothing and answers cancelled', async () => {
    const gate = gated();
    const handle = createCertifyHandler({ ...eastDeps(), reviewer: gate.reviewer });
    const answer = await handle({ token: GATEWAY_TOKEN, csrPem: csrPem() }, { peer: GATEWAY, msLeft: 0 });
    expect(answer).toMatchObject({ ok: false, outcome: 'cancelled' });
    expect(gate.reviewed).toEqual([]);
  });
});

describe('Certify under a flood of garbage tokens from one address (handler)', () => {
  it('leaves the slots to others: a gateway at another address is issued while 40 garbage calls arrive at once', async () => {
    const gate = gated();
    const handle = createCertifyHandler({ ...eastDeps(), reviewer: gate.reviewer });
    const attack = flood(
      Array.from(
        { length: 40 },
        (_, i) => () => handle({ token: garbage(i), csrPem: csrPem() }, { peer: ATTACKER }),
      ),
    );
    // Every garbage call is either answered or held in its review: the flood is at its height.
    await waitFor(
      'the flood to be in place',
      () => attack.answers.length + gate.waiting.length === 40,
      10_000,
    );
    const renewal = await handle({ token: GATEWAY_TOKEN, csrPem: csrPem() }, { peer: GATEWAY });
    expect(renewal.ok).toBe(true);
    expect(renewal.ok && gatewayIdentityOf(renewal.response.certPem)).toBe(EAST);
    // The attacker holds its share (4 slots, 4 TokenReviews); its other calls got no slot and no review.
    expect(gate.waiting).toHaveLength(4);
    expect(gate.reviewed.filter((t) => t !== GATEWAY_TOKEN)).toHaveLength(4);
    expect(attack.answers).toHaveLength(36);
    for (const answer of attack.answers)
      expect(answer).toMatchObject({ ok: false, code: 8, outcome: 'throttled' }); // RESOURCE_EXHAUSTED
    gate.release();
    const all = await within(attack.done, 10_000, 'the held calls to be answered');
    expect(all.filter((r) => !r.ok && r.outcome === 'unauthenticated')).toHaveLength(4);
  });

  it('holds each address to 4 calls in flight at once (RESOURCE_EXHAUSTED "throttled"), and gives a slot back as each ends', async () => {
    const gate = gated();
    const handle = createCertifyHandler({ ...eastDeps(), reviewer: gate.reviewer });
    const call = (i: number, peer: string) => handle({ token: garbage(i), csrPem: csrPem() }, { peer });
    const held = [1, 2, 3, 4].map((i) => call(i, ATTACKER));
    expect(await call(5, ATTACKER)).toMatchObject({
      ok: false,
      code: 8,
      outcome: 'throttled',
      message: `throttled: 4 Certify calls from ${ATTACKER} in flight or waiting, the most one address may have; retry later`,
    });
    // Another address is not held to the attacker's share.
    const other = call(6, GATEWAY);
    expect(gate.waiting).toHaveLength(5);
    gate.release();
    for (const r of await Promise.all([...held, other]))
      expect(r).toMatchObject({ outcome: 'unauthenticated' });
    // Its calls ended: the address has a slot again (one: its tokens were refused, caller-penalty.ts).
    const again = call(7, ATTACKER);
    expect(gate.waiting).toHaveLength(1);
    gate.release();
    expect(await again).toMatchObject({ outcome: 'unauthenticated' });
    expect(gate.reviewed).toEqual([1, 2, 3, 4, 6, 7].map(garbage));
  });

  it('takes another share (maxInFlightPerCaller), and never more than the global limit', async () => {
    const gate = gated();
    const handle = createCertifyHandler({
      ...eastDeps(),
      reviewer: gate.reviewer,
      maxInFlightPerCaller: 1,
      maxInFlight: 2,
      maxWaiting: 0,
    });
    const call = (i: number, peer: string) => handle({ token: garbage(i), csrPem: csrPem() }, { peer });
    const held = [call(1, 'a'), call(2, 'b')];
    expect(await call(3, 'a')).toMatchObject({ code: 8, outcome: 'throttled' });
    // No room to wait for a slot: refused at once.
    expect(await call(4, 'c')).toMatchObject({
      code: 8,
      outcome: 'busy',
      message: 'busy: 2 Certify calls in flight and 0 waiting for a slot; retry later',
    });
    gate.release();
    await Promise.all(held);
    expect(gate.reviewed).toEqual([garbage(1), garbage(2)]);
  });
});

describe('cheap checks before any slot or TokenReview', () => {
  /** A handler whose only slot is held by a call in review: a call that reaches the slots is "busy". */
  function full(deps: { requireJwt?: boolean } = {}) {
    const gate = gated();
    const handle = createCertifyHandler({ ...eastDeps(), ...deps, reviewer: gate.reviewer, maxInFlight: 1 });
    const holder = handle({ token: garbage(0), csrPem: csrPem() }, { peer: GATEWAY });
    return { gate, handle, holder };
  }

  it.each([
    ['no dots (not a JWT)', 'gateway-token'],
    ['two segments', 'eyJhbGciOiJSUzI1NiJ9.e30'],
    ['four segments', 'a.b.c.d'],
    ['an empty segment', 'eyJhbGciOiJSUzI1NiJ9..c2ln'],
    ['an empty signature', 'eyJhbGciOiJSUzI1NiJ9.e30.'],
    ['base64 padding', 'eyJhbGciOiJSUzI1NiJ9.e30=.c2ln'],
    ['standard base64 characters', 'eyJhbGciOiJSUzI1NiJ9.e3+/.c2ln'],
    ['a newline', 'eyJhbGciOiJSUzI1NiJ9.e30.c2ln\n'],
    ['a space', 'Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln'],
    ['non-ASCII', 'eyJhbGciOiJSUzI1NiJ9.é.c2ln'],
    ['more than MAX_TOKEN_CHARS', `${'a'.repeat(MAX_TOKEN_CHARS)}.e30.c2ln`],
  ])(
    'refuses a token with %s at once, UNAUTHENTICATED: no TokenReview, no slot (requireJwt)',
    async (_what, token) => {
      const { gate, handle, holder } = full({ requireJwt: true });
      expect(await handle({ token, csrPem: csrPem() }, { peer: ATTACKER })).toMatchObject({
        ok: false,
        code: 16, // UNAUTHENTICATED, not RESOURCE_EXHAUSTED: the slot was never asked for
        outcome: 'unauthenticated',
        message: expect.stringMatching(/^token not accepted: .*service account token/),
      });
      expect(gate.reviewed).toEqual([garbage(0)]);
      gate.release();
      await holder;
    },
  );

  it('bounds the token and the CSR even without requireJwt: refused at once, never reviewed', async () => {
    const { gate, handle, holder } = full();
    expect(await handle({ token: 'x'.repeat(MAX_TOKEN_CHARS + 1), csrPem: csrPem() })).toMatchObject({
      code: 16,
      outcome: 'unauthenticated',
      message: expect.stringContaining(`more than the ${MAX_TOKEN_CHARS} of any service account token`),
    });
    const big = `${csrPem()}${'x'.repeat(MAX_CSR_CHARS)}`;
    expect(await handle({ token: GATEWAY_TOKEN, csrPem: big })).toMatchObject({
      code: 3, // INVALID_ARGUMENT
      outcome: 'invalid',
      message: expect.stringContaining(`more than the ${MAX_CSR_CHARS} of any CSR Certify signs`),
    });
    expect(gate.reviewed).toEqual([garbage(0)]);
    gate.release();
    await holder;
  });

  it('still signs a real token and CSR with requireJwt', async () => {
    const handle = createCertifyHandler({ ...eastDeps(), reviewer, requireJwt: true });
    const result = await handle({ token: GATEWAY_TOKEN, csrPem: csrPem() }, { peer: GATEWAY });
    expect(result.ok && gatewayIdentityOf(result.response.certPem)).toBe(EAST);
  });
});

describe('Certify under a flood of garbage tokens from one address (gRPC: the caller is the peer address)', () => {
  it('issues to a gateway at 127.0.0.1 while [::1] floods: the flood gets its share and RESOURCE_EXHAUSTED, each counted', async () => {
    await withFloodServer({}, async ({ gate, metrics, attacker, gateway, events }) => {
      const codes: Array<number | 'issued'> = [];
      const attack = Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          certifyCode(attacker, garbage(i)).then((c) => {
            codes.push(c);
            return c;
          }),
        ),
      );
      await waitFor('the flood to be in place', () => codes.length + gate.waiting.length === 40, 60_000);
      expect(await certifyCode(gateway, GATEWAY_TOKEN)).toBe('issued');
      expect(gate.waiting).toHaveLength(4);
      expect(codes).toEqual(Array(36).fill(8)); // RESOURCE_EXHAUSTED
      gate.release();
      expect((await within(attack, 60_000, 'the held calls')).filter((c) => c === 16)).toHaveLength(4);
      // The caller is its address without the port, IPv4-mapped or not.
      expect(new Set(events.map((e) => e.peer))).toEqual(new Set(['::1', '127.0.0.1']));
      const counted = samplesOf(await metrics.render(), 'isthmus_identity_certify_requests_total');
      expect(counted).toMatchObject({
        [`{result="issued",identity="${EAST}"}`]: 1,
        '{result="throttled",identity="none"}': 36,
        '{result="unauthenticated",identity="none"}': 4,
        '{result="busy",identity="none"}': 0,
      });
    });
  });
});

describe('peerAddress', () => {
  it.each([
    ['10.42.0.66:51234', '10.42.0.66'],
    ['::ffff:10.42.0.66:51234', '10.42.0.66'],
    ['fd00:10:244::5:51234', 'fd00:10:244::5'],
    ['::1:443', '::1'],
    ['[fd00::5]:51234', 'fd00::5'],
    ['10.42.0.66', '10.42.0.66'],
    ['unknown', 'unknown'],
  ])('%s → %s', (peer, address) => {
    expect(peerAddress(peer)).toBe(address);
  });
});

describe('preCheckRefusal: the refusal of a request that needs no review to refuse', () => {
  const JWT = 'eyJhbGciOiJSUzI1NiJ9.e30.c2ln';
  it.each<[string, { token: string; csrPem: string }, boolean, Record<string, unknown> | undefined]>([
    [
      'no token',
      { token: '', csrPem: 'csr' },
      false,
      { code: 16, outcome: 'unauthenticated', message: 'no token in the request' },
    ],
    [
      'a token that is no JWT, requireJwt',
      { token: 'gateway-token', csrPem: 'csr' },
      true,
      {
        code: 16,
        outcome: 'unauthenticated',
        message: expect.stringMatching(/^token not accepted: not a service account token/),
      },
    ],
    [
      'a token that is no JWT, without requireJwt',
      { token: 'gateway-token', csrPem: 'csr' },
      false,
      undefined,
    ],
    [
      'a token too long, without requireJwt',
      { token: 'x'.repeat(MAX_TOKEN_CHARS + 1), csrPem: 'csr' },
      false,
      {
        code: 16,
        outcome: 'unauthenticated',
        message: expect.stringMatching(/^token not accepted: \d+ characters/),
      },
    ],
    [
      'a CSR too long',
      { token: JWT, csrPem: 'x'.repeat(MAX_CSR_CHARS + 1) },
      true,
      { code: 3, outcome: 'invalid', message: expect.stringMatching(/^the CSR has \d+ characters/) },
    ],
    [
      'a token checked before the CSR',
      { token: '', csrPem: 'x'.repeat(MAX_CSR_CHARS + 1) },
      false,
      { code: 16, outcome: 'unauthenticated', message: 'no token in the request' },
    ],
    ['a JWT and a CSR of any content within bounds', { token: JWT, csrPem: 'not a CSR' }, true, undefined],
  ])('%s', (_what, req, requireJwt, refused) => {
    expect(preCheckRefusal(req, requireJwt)).toStrictEqual(refused && { ok: false, ...refused });
  });
});

describe('refusal lines in the log: the first per address and outcome in a minute, the rest counted only', () => {
  const refusal = (peer: string, outcome: CertifyEvent['outcome'] = 'unauthenticated'): CertifyEvent => ({
    outcome,
    reason: 'token not accepted: token expired',
    peer,
    durationMs: 1,
  });
  const issued: CertifyEvent = {
    outcome: 'issued',
    identity: EAST,
    serial: '4f0a9c1e',
    notAfter: '2026-03-02T10:00:00.000Z',
    user: GATEWAY_USER,
    peer: GATEWAY,
    durationMs: 1,
  };

  it('logs one line per address and outcome a minute, says how many it left out, logs every issue, and the metrics count all', () => {
    let now = 1_000_000;
    const out: string[] = [];
    const err: string[] = [];
    const metrics = createIdentityMetrics();
    const stop = logCertifyOutcomes(
      (l) => out.push(l),
      (l) => err.push(l),
      { now: () => now },
    );
    try {
      for (let i = 0; i < 50; i++) certifyChannel.publish(refusal(ATTACKER));
      certifyChannel.publish(refusal(ATTACKER, 'throttled'));
      certifyChannel.publish(refusal(GATEWAY));
      certifyChannel.publish(issued);
      certifyChannel.publish(issued);
      now += 59_999;
      certifyChannel.publish(refusal(ATTACKER));
      expect(err).toEqual([
        `identity: Certify unauthenticated: token not accepted: token expired peer=${ATTACKER}\n`,
        `identity: Certify throttled: token not accepted: token expired peer=${ATTACKER}\n`,
        `identity: Certify unauthenticated: token not accepted: token expired peer=${GATEWAY}\n`,
      ]);
      expect(out).toHaveLength(2);
      now += 1;
      certifyChannel.publish(refusal(ATTACKER));
      certifyChannel.publish(refusal(ATTACKER));
      expect(err.slice(3)).toEqual([
        `identity: Certify unauthenticated: token not accepted: token expired peer=${ATTACKER} suppressed=50\n`,
      ]);
    } finally {
      stop();
    }
    return metrics.render().then((text) => {
      metrics.close();
      expect(samplesOf(text, 'isthmus_identity_certify_requests_total')).toMatchObject({
        '{result="unauthenticated",identity="none"}': 54,
        '{result="throttled",identity="none"}': 1,
        [`{result="issued",identity="${EAST}"}`]: 2,
      });
    });
  });

  it('remembers a bounded number of addresses: past it, refusals from new addresses share one line a minute', () => {
    let now = 0;
    const err: string[] = [];
    const stop = logCertifyOutcomes(
      () => {},
      (l) => err.push(l),
      { now: () => now, maxTracked: 2 },
    );
    try {
      for (const peer of ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5'])
        certifyChannel.publish(refusal(peer));
      expect(err.map((l) => /peer=(\S+)/.exec(l)?.[1])).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.3']);
      // A minute on, the addresses seen then are forgotten: new ones are tracked again.
      now += 60_000;
      for (const peer of ['10.0.0.6', '10.0.0.7', '10.0.0.8']) certifyChannel.publish(refusal(peer));
      expect(err.slice(3).map((l) => /peer=(\S+)/.exec(l)?.[1])).toEqual([
        '10.0.0.6',
        '10.0.0.7',
        '10.0.0.8',
      ]);
      expect(err[5]).toMatch(/suppressed=2\n$/);
    } finally {
      stop();
    }
  });
});

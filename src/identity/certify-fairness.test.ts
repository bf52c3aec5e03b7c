import { describe, expect, it } from 'vitest';
import { within } from '../kube/test-support.js';
import { waitFor } from '../wait-for.js';
import { gatewayIdentityOf } from './ca.js';
import { PENALTY_MS } from './caller-penalty.js';
import { logCertifyOutcomes } from './certify-log.js';
import { createCertifyHandler } from './certify-service.js';
import { samplesOf } from './testing.js';
import {
  ATTACKER,
  answered,
  certifyCode,
  csrPem,
  EAST,
  eastDeps,
  flood,
  GATEWAY,
  GATEWAY_TOKEN,
  garbage,
  gated,
  withFloodServer,
} from './testing-flood.js';

/**
 * Eight attacking pods still held all 32 slots with JWT-shaped garbage tokens (4 each, every call a
 * TokenReview the API server answers "not authenticated"), and a gateway's renewal was refused
 * "busy". An address refused for its credentials now holds 1 slot for a while (caller-penalty.ts),
 * and a call that finds every slot busy waits in a fair queue (fair-slots.ts).
 */

/** Eight pods' addresses: enough, with their 4 slots each, to hold all 32 before penalties. */
const ATTACKERS = Array.from({ length: 8 }, (_, i) => `10.42.3.${10 + i}`);

describe('Certify under a flood of garbage tokens from eight addresses (penalties)', () => {
  it('issues a renewal while 8 addresses come straight back with JWT-shaped tokens the API refuses: a refused address holds 1 slot', async () => {
    const gate = gated();
    const handle = createCertifyHandler({ ...eastDeps(), reviewer: gate.reviewer });
    let sent = 0;
    /** Each attacking address sends 6 calls at once, more than its share of 4. */
    const wave = () =>
      flood(
        ATTACKERS.flatMap((peer) =>
          Array.from(
            { length: 6 },
            () => () => handle({ token: garbage(sent++), csrPem: csrPem() }, { peer, msLeft: 10_000 }),
          ),
        ),
      );
    const first = wave();
    await waitFor('the first wave to hold every slot', () => gate.waiting.length === 32, 10_000);
    gate.release();
    const refused = await within(first.done, 10_000, 'the first wave to be answered');
    expect(refused.filter((r) => !r.ok && r.outcome === 'unauthenticated')).toHaveLength(32);
    // The attackers come straight back: a refused address now gets one slot.
    const second = wave();
    await waitFor(
      'the second wave to be in place',
      () => second.answers.length + gate.waiting.length === 48,
      10_000,
    );
    const renewal = await within(
      handle({ token: GATEWAY_TOKEN, csrPem: csrPem() }, { peer: GATEWAY, msLeft: 10_000 }),
      10_000,
      'the renewal',
    );
    expect(renewal.ok && gatewayIdentityOf(renewal.response.certPem)).toBe(EAST);
    expect(gate.waiting).toHaveLength(ATTACKERS.length);
    expect(second.answers).toHaveLength(40);
    for (const answer of second.answers)
      expect(answer).toMatchObject({ ok: false, code: 8, outcome: 'penalised' }); // RESOURCE_EXHAUSTED
    gate.release();
    await within(second.done, 10_000, 'the held calls to be answered');
  });

  it('gives the next free slot to a waiting gateway before the waiting attackers, though they came first', async () => {
    const gate = gated();
    // Waits are bounded by the test's deadlines, not by this machine's speed.
    const handle = createCertifyHandler({ ...eastDeps(), reviewer: gate.reviewer, maxWaitMs: 120_000 });
    // More addresses than slots: one call each fills the 32 slots even at a penalised share.
    const addresses = Array.from({ length: 40 }, (_, i) => `10.42.4.${10 + i}`);
    let sent = 0;
    const wave = () =>
      flood(addresses.map((peer) => () => handle({ token: garbage(sent++), csrPem: csrPem() }, { peer })));
    // Every address is refused once: all are penalised.
    await answered(gate, wave());
    const second = wave();
    await waitFor('the second wave to hold every slot', () => gate.waiting.length === 32, 10_000);
    // The gateway comes last, behind 8 waiting attackers: the slot one review frees is its.
    const renewal = handle({ token: GATEWAY_TOKEN, csrPem: csrPem() }, { peer: GATEWAY });
    gate.waiting.shift()?.();
    const issued = await within(renewal, 10_000, 'the renewal');
    expect(issued.ok && gatewayIdentityOf(issued.response.certPem)).toBe(EAST);
    await waitFor('the freed call to be answered', () => second.answers.length === 1, 10_000);
    expect(second.answers).toMatchObject([{ outcome: 'unauthenticated' }]);
    await answered(gate, second);
  });
});

describe('penalties: how long they last, and what ends them', () => {
  it('ends after PENALTY_MS, and at once when the address is issued a certificate', async () => {
    let now = 0;
    const gate = gated();
    const handle = createCertifyHandler({ ...eastDeps(), reviewer: gate.reviewer, clock: () => now });
    const call = (i: number, peer: string) => handle({ token: garbage(i), csrPem: csrPem() }, { peer });
    const refusal = call(1, ATTACKER);
    gate.release();
    expect(await refusal).toMatchObject({ outcome: 'unauthenticated', penaltyImposed: true });
    // Penalised: one call in review, the next refused without a TokenReview.
    const held = call(2, ATTACKER);
    expect(await call(3, ATTACKER)).toMatchObject({
      ok: false,
      code: 8,
      outcome: 'penalised',
      message: `penalised: ${ATTACKER} was refused for its credentials lately, so it may have 1 Certify call in flight or waiting, and has 1; retry later`,
    });
    gate.release();
    // Renewed by that refusal, not imposed anew.
    expect(await held).not.toHaveProperty('penaltyImposed');
    now += PENALTY_MS - 1;
    const stillOne = [call(4, ATTACKER), call(5, ATTACKER)];
    expect(await stillOne[1]).toMatchObject({ outcome: 'penalised' });
    gate.release();
    await Promise.all(stillOne);
    now += PENALTY_MS;
    const shareAgain = [call(6, ATTACKER), call(7, ATTACKER)];
    expect(gate.waiting).toHaveLength(2);
    gate.release();
    await Promise.all(shareAgain);

    // The gateway's own address, refused once (a token being rotated), then issued: its share is back.
    const rotating = call(8, GATEWAY);
    gate.release();
    expect(await rotating).toMatchObject({ outcome: 'unauthenticated', penaltyImposed: true });
    expect(await handle({ token: GATEWAY_TOKEN, csrPem: csrPem() }, { peer: GATEWAY })).toMatchObject({
      ok: true,
    });
    const cleared = [call(9, GATEWAY), call(10, GATEWAY)];
    expect(gate.waiting).toHaveLength(2);
    gate.release();
    await Promise.all(cleared);
  });
});

describe('the queue for a slot: bounded by the call', () => {
  it('a waiting call leaves the queue when its caller cancels (CANCELLED, never reviewed); one whose deadline leaves no time to wait is busy at once', async () => {
    const gate = gated();
    const handle = createCertifyHandler({
      ...eastDeps(),
      reviewer: gate.reviewer,
      maxInFlight: 1,
      maxWaiting: 1,
      maxWaitMs: 120_000,
    });
    const holder = handle({ token: garbage(0), csrPem: csrPem() }, { peer: ATTACKER });
    const caller = new AbortController();
    const waiting = handle({ token: garbage(1), csrPem: csrPem() }, { peer: GATEWAY, signal: caller.signal });
    // The queue (of 1) is full: a third call is refused at once.
    expect(await handle({ token: garbage(2), csrPem: csrPem() }, { peer: '10.42.1.18' })).toMatchObject({
      code: 8,
      outcome: 'busy',
      message: 'busy: 1 Certify calls in flight and 1 waiting for a slot; retry later',
    });
    caller.abort();
    expect(await within(waiting, 10_000, 'the cancelled call')).toMatchObject({
      ok: false,
      code: 1, // CANCELLED
      outcome: 'cancelled',
      waitedMs: expect.any(Number),
    });
    // Its place is free again; but a call whose deadline is 1 s away has no time to wait.
    expect(
      await handle({ token: GATEWAY_TOKEN, csrPem: csrPem() }, { peer: GATEWAY, msLeft: 1000 }),
    ).toMatchObject({ code: 8, outcome: 'busy', message: expect.stringContaining('0 waiting') });
    gate.release();
    await within(holder, 10_000, 'the held call');
    expect(gate.reviewed).toEqual([garbage(0)]);
  });
});

describe('penalised and queued-then-busy refusals over gRPC: counted and logged', () => {
  it('counts them by result, the penalties imposed and the wait, and logs each once a minute per address', async () => {
    const errors: string[] = [];
    const stopLog = logCertifyOutcomes(
      () => {},
      (l) => errors.push(l),
    );
    const codes: Array<number | 'issued'> = [];
    // The only slot is held by a review the test releases: the wait always ends without one.
    await withFloodServer(
      { maxInFlight: 1, maxWaitMs: 100 },
      async ({ gate, metrics, attacker, gateway, events }) => {
        const first = certifyCode(attacker, garbage(0));
        await waitFor('the first review', () => gate.waiting.length === 1, 60_000);
        gate.release();
        expect(await within(first, 60_000, 'the first refusal')).toBe(16); // UNAUTHENTICATED
        // Penalised: one call held in review (it holds the only slot), the others refused at once.
        const held = certifyCode(attacker, garbage(1));
        await waitFor('the held review', () => gate.waiting.length === 1, 60_000);
        for (const i of [2, 3])
          codes.push(await within(certifyCode(attacker, garbage(i)), 60_000, 'a refusal'));
        expect(codes).toEqual([8, 8]); // RESOURCE_EXHAUSTED
        // The gateway waits for the slot, and hears busy when its wait ends.
        expect(await within(certifyCode(gateway, GATEWAY_TOKEN), 60_000, 'the wait to end')).toBe(8);
        gate.release();
        expect(await within(held, 60_000, 'the held call')).toBe(16);
        expect(await within(certifyCode(gateway, GATEWAY_TOKEN), 60_000, 'the renewal')).toBe('issued');

        const text = await metrics.render();
        expect(samplesOf(text, 'isthmus_identity_certify_requests_total')).toMatchObject({
          '{result="unauthenticated",identity="none"}': 2,
          '{result="penalised",identity="none"}': 2,
          '{result="busy",identity="none"}': 1,
          [`{result="issued",identity="${EAST}"}`]: 1,
        });
        expect(samplesOf(text, 'isthmus_identity_certify_penalties_total')).toEqual({ '': 1 });
        expect(samplesOf(text, 'isthmus_identity_certify_queue_wait_seconds_count')).toEqual({
          '{result="busy"}': 1,
        });
        expect(events.filter((e) => e.outcome === 'busy')).toEqual([
          expect.objectContaining({ peer: '127.0.0.1', waitedMs: expect.any(Number) }),
        ]);
        expect(errors).toEqual([
          'identity: Certify unauthenticated: token not accepted: token expired peer=::1\n',
          'identity: Certify penalised: penalised: ::1 was refused for its credentials lately, so it may have 1 Certify call in flight or waiting, and has 1; retry later peer=::1\n',
          expect.stringMatching(
            /^identity: Certify busy: busy: no Certify slot came free within 100 ms \(1 calls in flight, 0 others waiting\); retry later peer=127\.0\.0\.1\n$/,
          ),
        ]);
      },
    ).finally(stopLog);
  });
});

import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { type CertifyEvent, certifyEventOf, internalEventOf } from './certify-event.js';
import type { CallAdmission, CertifyResult } from './certify-outcome.js';

const EAST = 'spiffe://cluster.local/cluster/east/gateway';
const USER = 'system:serviceaccount:isthmus-system:isthmus-gateway';
const AT = { peer: '10.42.1.17', durationMs: 12 };
const NOT_AFTER = Date.UTC(2026, 2, 2, 10);

const issued = (extra: CallAdmission = {}): CertifyResult => ({
  ok: true,
  identity: EAST,
  serial: '4f0a9c1e',
  caller: { user: USER, pod: 'gw-1' },
  response: { certPem: 'CERT', chainPem: 'CHAIN', notAfterUnixMs: NOT_AFTER },
  ...extra,
});

/** The event of issued(). */
const ISSUED: CertifyEvent = {
  outcome: 'issued',
  identity: EAST,
  serial: '4f0a9c1e',
  notAfter: '2026-03-02T10:00:00.000Z',
  user: USER,
  pod: 'gw-1',
  peer: AT.peer,
  durationMs: 12,
};

describe('certifyEventOf: the event of each result', () => {
  it.each<[string, CertifyResult, CertifyEvent]>([
    ['issued: serial, notAfter (ISO 8601), caller and address', issued(), ISSUED],
    ['issued after a wait for a slot', issued({ waitedMs: 40 }), { ...ISSUED, waitedMs: 40 }],
    [
      'refused before any review: the reason, no caller',
      {
        ok: false,
        code: status.UNAUTHENTICATED,
        outcome: 'unauthenticated',
        message: 'no token in the request',
      },
      { outcome: 'unauthenticated', reason: 'no token in the request', peer: AT.peer, durationMs: 12 },
    ],
    [
      'refused its credentials, penalising the address',
      {
        ok: false,
        code: status.PERMISSION_DENIED,
        outcome: 'denied',
        message: 'not yours',
        caller: { user: USER },
        identity: EAST,
        penaltyImposed: true,
      },
      {
        outcome: 'denied',
        reason: 'not yours',
        user: USER,
        identity: EAST,
        peer: AT.peer,
        durationMs: 12,
        penaltyImposed: true,
      },
    ],
    [
      'a TokenReview that timed out, after a wait of 0 ms (still a wait)',
      {
        ok: false,
        code: status.UNAVAILABLE,
        outcome: 'unavailable',
        message: 'token review: no answer',
        tokenReview: 'timeout',
        waitedMs: 0,
      },
      {
        outcome: 'unavailable',
        reason: 'token review: no answer',
        tokenReview: 'timeout',
        peer: AT.peer,
        durationMs: 12,
        waitedMs: 0,
      },
    ],
  ])('%s', (_what, result, event) => {
    expect(certifyEventOf(result, AT)).toStrictEqual(event);
  });

  it('names a handler that threw internal, with the error as the reason', () => {
    expect(internalEventOf('boom', AT)).toStrictEqual({
      outcome: 'internal',
      reason: 'boom',
      peer: AT.peer,
      durationMs: 12,
    });
  });
});

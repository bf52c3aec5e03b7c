import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { callerGone, type RefusalCause, refusal, refusalOf } from './certify-outcome.js';

describe('refusalOf: the outcome and gRPC code of each refusal', () => {
  it.each<[RefusalCause, string, status]>([
    ['unauthenticated', 'unauthenticated', status.UNAUTHENTICATED],
    ['denied', 'denied', status.PERMISSION_DENIED],
    ['invalid', 'invalid', status.INVALID_ARGUMENT],
    // The API server failed the TokenReview: the gateway retries.
    ['unavailable', 'unavailable', status.UNAVAILABLE],
    // The issuer is outside its validity: the same outcome, its own code.
    ['issuer-unusable', 'unavailable', status.FAILED_PRECONDITION],
    ['cancelled', 'cancelled', status.CANCELLED],
    // The slots' refusals: RESOURCE_EXHAUSTED, which the gateway retries with backoff.
    ['busy', 'busy', status.RESOURCE_EXHAUSTED],
    ['throttled', 'throttled', status.RESOURCE_EXHAUSTED],
    ['penalised', 'penalised', status.RESOURCE_EXHAUSTED],
    ['internal', 'internal', status.INTERNAL],
  ])('%s → outcome %s, code %d', (cause, outcome, code) => {
    expect(refusalOf(cause)).toStrictEqual({ outcome, code });
  });
});

describe('refusal', () => {
  it('names the caller only when one is known', () => {
    expect(refusal('denied', 'no', { user: 'u', pod: 'p' })).toStrictEqual({
      ok: false,
      code: status.PERMISSION_DENIED,
      outcome: 'denied',
      message: 'no',
      caller: { user: 'u', pod: 'p' },
    });
    expect(refusal('invalid', 'bad CSR')).toStrictEqual({
      ok: false,
      code: status.INVALID_ARGUMENT,
      outcome: 'invalid',
      message: 'bad CSR',
    });
  });

  it('answers a caller that has gone CANCELLED, saying nothing was signed', () => {
    expect(callerGone()).toStrictEqual({
      ok: false,
      code: status.CANCELLED,
      outcome: 'cancelled',
      message: 'the caller cancelled or its deadline passed; nothing signed',
    });
  });
});

import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { IDENTITY_TOKEN_AUDIENCE } from '../kube/keys.js';
import { within } from '../kube/test-support.js';
import {
  authorise,
  callerOf,
  POD_NAME_EXTRA,
  reviewToken,
  type TokenReview,
  type TokenReviewer,
} from './certify-authorisation.js';
import { createCsr } from './csr.js';
import { defaultIdentityRules } from './identity-policy.js';
import { TEST_TRUST_DOMAIN, testLeafKey } from './testing.js';

const EAST = 'spiffe://cluster.local/cluster/east/gateway';
const WEST = 'spiffe://cluster.local/cluster/west/gateway';
const GATEWAY_USER = 'system:serviceaccount:isthmus-system:isthmus-gateway';
const OTHER_USER = 'system:serviceaccount:default:intruder';
const RULES = defaultIdentityRules(TEST_TRUST_DOMAIN, 'east');
const gateway: TokenReview = {
  authenticated: true,
  username: GATEWAY_USER,
  extra: { [POD_NAME_EXTRA]: ['gw-1'] },
};

describe('authorise: what a TokenReview and a CSR allow', () => {
  const key = testLeafKey();
  const east = createCsr(key.privateKeyPem, EAST);
  const west = createCsr(key.privateKeyPem, WEST);
  it.each<[string, TokenReview, string, Record<string, unknown>]>([
    [
      'not authenticated, the reviewer saying why',
      { authenticated: false, error: 'token expired' },
      east,
      {
        ok: false,
        code: status.UNAUTHENTICATED,
        outcome: 'unauthenticated',
        message: 'token not accepted: token expired',
      },
    ],
    [
      'authenticated but naming no one',
      { authenticated: true },
      east,
      {
        ok: false,
        code: status.UNAUTHENTICATED,
        outcome: 'unauthenticated',
        message: 'token not accepted: not authenticated',
      },
    ],
    [
      'an account that may hold no identity',
      { authenticated: true, username: OTHER_USER },
      east,
      {
        ok: false,
        code: status.PERMISSION_DENIED,
        outcome: 'denied',
        message: `${OTHER_USER} may not hold any identity in this cluster`,
        caller: { user: OTHER_USER },
      },
    ],
    [
      "a CSR for another cluster's identity",
      gateway,
      west,
      {
        ok: false,
        code: status.PERMISSION_DENIED,
        outcome: 'denied',
        message: expect.stringMatching(new RegExp(`^${GATEWAY_USER}: `)),
        caller: { user: GATEWAY_USER, pod: 'gw-1' },
        identity: EAST,
      },
    ],
    [
      'a garbage CSR',
      gateway,
      'not a CSR',
      {
        ok: false,
        code: status.INVALID_ARGUMENT,
        outcome: 'invalid',
        message: expect.stringMatching(/^not a PEM PKCS#10/),
        caller: { user: GATEWAY_USER, pod: 'gw-1' },
        identity: EAST,
      },
    ],
    [
      'the gateway asking for its own identity',
      gateway,
      east,
      {
        ok: true,
        caller: { user: GATEWAY_USER, pod: 'gw-1' },
        identity: EAST,
        publicKeyPem: expect.any(String),
      },
    ],
  ])('%s', (_what, review, csrPem, expected) => {
    expect(authorise(review, csrPem, RULES)).toStrictEqual(expected);
  });
});

describe('callerOf', () => {
  it.each<[TokenReview, Record<string, string | undefined>]>([
    [{ authenticated: true, username: GATEWAY_USER }, { user: GATEWAY_USER }],
    [gateway, { user: GATEWAY_USER, pod: 'gw-1' }],
    [
      { authenticated: true, username: GATEWAY_USER, extra: { [POD_NAME_EXTRA]: [] } },
      { user: GATEWAY_USER },
    ],
  ])('%j → %j', (review, caller) => {
    expect(callerOf(review)).toStrictEqual(caller);
  });
});

describe('reviewToken: the review, bounded by its budget and by the call', () => {
  const never: TokenReviewer = () => new Promise(() => {});
  it('answers UNAVAILABLE (timeout) when the API server does not answer within the budget', async () => {
    const review = await within(
      reviewToken(never, 't', new AbortController().signal, 20),
      5_000,
      'the review',
    );
    expect(review).toStrictEqual({
      ok: false,
      code: status.UNAVAILABLE,
      outcome: 'unavailable',
      message: 'token review: no answer from the API server within 20 ms',
      tokenReview: 'timeout',
    });
  });

  it('answers UNAVAILABLE (error) when the review fails', async () => {
    const failing: TokenReviewer = async () => {
      throw new Error('connection refused');
    };
    const review = await within(
      reviewToken(failing, 't', new AbortController().signal, 5_000),
      5_000,
      'the review',
    );
    expect(review).toMatchObject({ outcome: 'unavailable', tokenReview: 'error' });
    expect(review).toHaveProperty(
      'message',
      expect.stringMatching(/^token review failed: .*connection refused/),
    );
  });

  it('answers CANCELLED once the call ends, and aborts the reviewer', async () => {
    const call = new AbortController();
    let seen: AbortSignal | undefined;
    const review = reviewToken(
      (_t, _a, signal) => {
        seen = signal;
        return new Promise(() => {});
      },
      't',
      call.signal,
      60_000,
    );
    call.abort();
    expect(await within(review, 5_000, 'the review')).toMatchObject({
      outcome: 'cancelled',
      code: status.CANCELLED,
    });
    expect(seen?.aborted).toBe(true);
  });

  it('passes the identity audience, and the answer through', async () => {
    let audiences: string[] = [];
    const reviewer: TokenReviewer = async (_t, a) => {
      audiences = a;
      return gateway;
    };
    expect(
      await within(reviewToken(reviewer, 't', new AbortController().signal, 5_000), 5_000, 'the review'),
    ).toBe(gateway);
    expect(audiences).toEqual([IDENTITY_TOKEN_AUDIENCE]);
  });
});

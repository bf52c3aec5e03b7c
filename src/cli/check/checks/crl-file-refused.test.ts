/**
 * The revocation check and what each running gateway (and identity) pod says of the CRL file it
 * holds: a gateway refuses a reload relative to the list it already holds (a rollback, a usable
 * CA's CRL dropped, an emptied file), which the ConfigMap alone does not show, and keeps the older
 * list: `isthmus_gateway_crl_file_refused 1` on its admin `/metrics`.
 */
import { describe, expect, it } from 'vitest';
import { splitPem } from '../../../identity/index.js';
import { testCrlBundle, testGatewayCertificate, testPki } from '../../../identity/testing.js';
import { healthyFacts } from '../test-builders.js';
import type { CheckFacts, CrlFileState } from '../types.js';
import { checkRevocation } from './revocation.js';

const A = 'isthmus-gateway-7d9f-aaaaa';
const B = 'isthmus-gateway-7d9f-bbbbb';
const IDENTITY = 'isthmus-identity-5c4b-ccccc';

function facts(states: CrlFileState[] | { error: string }): CheckFacts {
  const f = healthyFacts({
    anchorPem: testPki().anchor.certPem,
    issuerPem: testPki().issuers.east.certPem,
    westChain: splitPem(testGatewayCertificate('west').chainPem),
  });
  // A bundle the check accepts on its own: only the list a gateway holds tells it is refused.
  f.crlPem = { ok: true, value: testCrlBundle(testPki().issuers.east, ['01']) };
  f.crlFileStates = Array.isArray(states) ? { ok: true, value: states } : { ok: false, ...states };
  return f;
}

const gateway = (pod: string, refused?: boolean): CrlFileState => ({
  pod,
  component: 'gateway',
  ok: true,
  ...(refused === undefined ? {} : { refused }),
});

describe('checkRevocation and the CRL file each running pod refused', () => {
  it('fails when one of two gateway replicas refused the file, naming it, with what to do and not to do', () => {
    const result = checkRevocation(facts([gateway(A, false), gateway(B, true)]));
    expect(result.status).toBe('fail');
    expect(result.hints).toHaveLength(1);
    const [hint] = result.hints;
    expect(hint).toMatch(
      new RegExp(
        `^gateway pod ${B} refused the CRL file of isthmus-crl against the list it holds \\(isthmus_gateway_crl_file_refused 1\\): `,
      ),
    );
    expect(hint).not.toContain(A);
    for (const part of [
      'a rollback',
      "a dropped CA's CRL",
      'an emptied file',
      '"CRL update refused"',
      'not enforced there',
      'isthmus certs revoke',
      'do not restart',
      'step 3 of an anchor rotation',
    ])
      expect(hint).toContain(part);
  });

  it('passes when every replica reports 0', () => {
    expect(checkRevocation(facts([gateway(A, false), gateway(B, false)]))).toMatchObject({
      status: 'ok',
      hints: [],
    });
  });

  it('warns, naming the replica, when its /metrics cannot be read: not a pass', () => {
    const result = checkRevocation(
      facts([
        gateway(A, false),
        { pod: B, component: 'gateway', ok: false, error: 'the request timed out after 5000 ms' },
      ]),
    );
    expect(result.status).toBe('warn');
    expect(result.hints).toEqual([
      expect.stringMatching(
        new RegExp(
          `^cannot read whether gateway pod ${B} refused the CRL file \\(/metrics on its admin port\\): the request timed out after 5000 ms`,
        ),
      ),
    ]);
  });

  it('says nothing of a gateway that serves no such gauge (an older version)', () => {
    expect(checkRevocation(facts([gateway(A), gateway(B, false)]))).toMatchObject({
      status: 'ok',
      hints: [],
    });
  });

  it('fails naming an identity pod that refused the file, with identity advice', () => {
    const result = checkRevocation(
      facts([gateway(A, false), { pod: IDENTITY, component: 'identity', ok: true, refused: true }]),
    );
    expect(result.status).toBe('fail');
    expect(result.hints).toEqual([
      expect.stringMatching(
        new RegExp(
          `^identity pod ${IDENTITY} refused the CRL file of isthmus-crl \\(isthmus_identity_crl_file_refused 1\\): .*do not restart`,
        ),
      ),
    ]);
  });

  it('names the pods beside the refusal the check sees in the file itself, once', () => {
    const f = facts([gateway(A, true), gateway(B, true)]);
    f.crlPem = { ok: true, value: 'not a CRL bundle' };
    const result = checkRevocation(f);
    expect(result.status).toBe('fail');
    expect(result.hints).toEqual([
      expect.stringMatching(
        new RegExp(
          `^the gateways refuse the CRL bundle in isthmus-crl .*; refused now by gateway pods ${A}, ${B}$`,
        ),
      ),
    ]);
  });

  it('says to recreate a ConfigMap that is gone (the file vanished, the list loaded before stays)', () => {
    const f = facts([gateway(A, true)]);
    f.crlPem = { ok: true, value: undefined };
    expect(checkRevocation(f)).toMatchObject({
      status: 'fail',
      hints: [
        expect.stringMatching(
          new RegExp(
            `^gateway pod ${A} refused the CRL file .*vanished with the isthmus-crl ConfigMap.*recreate the ConfigMap .*do not restart a pod meanwhile`,
          ),
        ),
      ],
    });
  });

  it('warns when the pods could not be listed', () => {
    const result = checkRevocation(facts({ error: 'pods is forbidden' }));
    expect(result.status).toBe('warn');
    expect(result.hints).toEqual([
      expect.stringMatching(
        /^cannot read whether the gateway and identity pods refused the CRL file: pods is forbidden/,
      ),
    ]);
  });
});

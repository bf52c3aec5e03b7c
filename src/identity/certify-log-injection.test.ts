import forge from 'node-forge';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatCertifyEvent, logCertifyOutcomes } from './certify-log.js';
import {
  type IdentityServer,
  POD_NAME_EXTRA,
  startIdentityServer,
  type TokenReviewer,
} from './certify-service.js';
import { callUnary } from './grpc-util.js';
import { identityServiceDefinition } from './protocol.js';
import { TEST_TRUST_DOMAIN, testIdentityTrust, testLeafKey, testPki } from './testing.js';

/**
 * Finding 6 of the security review: the audit log is plain text, one line per Certify call, and
 * operators find certificates minted with a stolen token by its `issued a certificate … serial=`
 * lines. Whatever a caller puts in a CSR, a token or an account must stay inside its own line.
 */

const EAST = 'spiffe://cluster.local/cluster/east/gateway';
const GATEWAY_USER = 'system:serviceaccount:isthmus-system:isthmus-gateway';
const GATEWAY_POD = 'isthmus-gateway-5d8c7b9f4-x2kqp';
/** A line that would pass for a certificate issued to someone else, as the review's repro forged it. */
const FORGED = `identity: issued a certificate for ${EAST} serial=4badc0ffee notAfter=2030-01-01T00:00:00.000Z user=system:serviceaccount:kube-system:attacker pod=forged-line`;

const b64url = (s: string) => Buffer.from(s).toString('base64url');
/** JWT-shaped, as a projected service account token is. */
const GATEWAY_TOKEN = `${b64url('{"alg":"RS256"}')}.${b64url('{"sub":"gateway"}')}.c2lnbmF0dXJl`;
const reviewer: TokenReviewer = async (token) =>
  token === GATEWAY_TOKEN
    ? { authenticated: true, username: GATEWAY_USER, extra: { [POD_NAME_EXTRA]: [GATEWAY_POD] } }
    : { authenticated: false, error: 'token expired' };

/** A CSR of the test leaf key whose only SAN is the DNS name `dns`, whatever it holds. */
function csrWithDnsSan(dns: string): string {
  const { pki } = forge;
  const key = pki.privateKeyFromPem(testLeafKey().privateKeyPem) as forge.pki.rsa.PrivateKey;
  const csr = pki.createCertificationRequest();
  csr.publicKey = pki.setRsaPublicKey(key.n, key.e);
  csr.setAttributes([
    {
      name: 'extensionRequest',
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: dns }] }],
    },
  ]);
  csr.sign(key, forge.md.sha256.create());
  return pki.certificationRequestToPem(csr);
}

/** One line: printable ASCII, a single newline at its end. */
const ONE_LINE = /^[\x20-\x7e]*\n$/;

describe('the Certify audit log under log injection', () => {
  let server: IdentityServer;
  let address: string;
  beforeAll(async () => {
    server = await startIdentityServer({
      issuer: testPki().issuers.east,
      trustDomain: TEST_TRUST_DOMAIN,
      cluster: 'east',
      reviewer,
      host: '127.0.0.1',
      port: 0,
    });
    address = `127.0.0.1:${server.port}`;
  });
  afterAll(async () => {
    await server?.close();
  });

  it('logs a CSR whose SAN carries a forged "issued a certificate" line as one refusal line, the forgery inert inside it', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const stop = logCertifyOutcomes(
      (l) => out.push(l),
      (l) => err.push(l),
    );
    try {
      const answer = await callUnary(
        address,
        identityServiceDefinition.Certify,
        { token: GATEWAY_TOKEN, csrPem: csrWithDnsSan(`x\n${FORGED}\nidentity: ignore; this`) },
        30_000,
        {
          tls: {
            caPem: testIdentityTrust('east').anchorPem,
            identityProblem: () => undefined,
            serverName: 'isthmus-identity',
          },
        },
      ).then(
        () => 'issued',
        (e: { code: number }) => e.code,
      );
      expect(answer).toBe(7); // PERMISSION_DENIED
    } finally {
      stop();
    }
    expect(out).toEqual([]);
    expect(err).toHaveLength(1);
    const line = err[0]!;
    expect(line).toMatch(ONE_LINE);
    expect(line).not.toMatch(/^identity: issued/m);
    // The forged fields are no fields: each `=` of the caller's text is escaped inside the quotes.
    expect(line).not.toContain('serial=');
    expect(line).not.toContain('user=system:serviceaccount:kube-system:attacker');
    expect(
      line.startsWith(
        `identity: Certify denied: "${GATEWAY_USER}: the CSR asks for DNS:x\\nidentity: issued`,
      ),
    ).toBe(true);
    // The real caller, once, at the end of the line, after the caller's text.
    expect(line.endsWith(` user=${GATEWAY_USER} pod=${GATEWAY_POD} peer=127.0.0.1\n`)).toBe(true);
    // Nothing is lost: the reason as checkCsr wrote it is the quoted value, read back as JSON.
    const quoted = /^identity: Certify denied: ("(?:[^"\\]|\\.)*") user=/.exec(line)?.[1];
    expect(JSON.parse(quoted!)).toContain(`DNS:x\n${FORGED}\nidentity: ignore; this`);
  });

  it('escapes every caller-derived field: control and non-ASCII characters (line and paragraph separators, bidi overrides, ESC, DEL), quotes and `=`', () => {
    const nasty = [
      'a\rb',
      'c\u2028d',
      'e\u202Ef',
      'g\u001b[31mh',
      'i\u007fj',
      'k"l',
      'm=n',
      'o\\p',
      'q r',
      'é',
      '',
    ];
    for (const value of nasty) {
      const events = [
        {
          outcome: 'issued',
          identity: value,
          serial: value,
          notAfter: value,
          user: value,
          pod: value,
          peer: value,
        },
        { outcome: 'denied', reason: value, identity: value, user: value, pod: value, peer: value },
      ] as const;
      for (const event of events) {
        const { line } = formatCertifyEvent({ ...event, durationMs: 1 });
        expect(line, JSON.stringify(value)).toMatch(ONE_LINE);
        // A value that needs escaping is not in the line as it was (spaces alone only get quotes).
        if (!/^[\w .]*$/.test(value)) expect(line).not.toContain(value);
      }
    }
  });

  it('a reason cannot add a field (user=, pod=) of its own: the fields after it are ours alone', () => {
    const { line } = formatCertifyEvent({
      outcome: 'unauthenticated',
      reason: 'token not accepted: x user=system:serviceaccount:kube-system:attacker pod=evil',
      durationMs: 1,
    });
    expect(line).toBe(
      'identity: Certify unauthenticated: "token not accepted: x user\\u003dsystem:serviceaccount:kube-system:attacker pod\\u003devil"\n',
    );
  });

  it('writes plain values as they are, so the documented format holds for every ordinary line', () => {
    expect(
      formatCertifyEvent({
        outcome: 'issued',
        identity: EAST,
        serial: '4f0a9c1e',
        notAfter: '2026-03-02T10:00:00.000Z',
        user: GATEWAY_USER,
        pod: GATEWAY_POD,
        peer: '10.42.0.17',
        durationMs: 1,
      }).line,
    ).toBe(
      `identity: issued a certificate for ${EAST} serial=4f0a9c1e notAfter=2026-03-02T10:00:00.000Z user=${GATEWAY_USER} pod=${GATEWAY_POD} peer=10.42.0.17\n`,
    );
    expect(
      formatCertifyEvent({
        outcome: 'denied',
        reason: `${GATEWAY_USER}: the CSR asks for DNS:x; this caller may only hold ${EAST}`,
        user: GATEWAY_USER,
        peer: 'fd00::17',
        durationMs: 1,
      }).line,
    ).toBe(
      `identity: Certify denied: ${GATEWAY_USER}: the CSR asks for DNS:x; this caller may only hold ${EAST} user=${GATEWAY_USER} peer=fd00::17\n`,
    );
  });
});

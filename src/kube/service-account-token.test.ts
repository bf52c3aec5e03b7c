import { describe, expect, it } from 'vitest';
import { kubeconfigTokenClaims, serviceAccountTokenClaims } from './service-account-token.js';

const jwt = (claims: unknown) => `e30.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.c2ln`;
const kubeconfig = (token: string) =>
  `apiVersion: v1\nkind: Config\nusers:\n  - name: isthmus-remote-access\n    user:\n      token: ${token}\n`;

describe('serviceAccountTokenClaims', () => {
  it('reads a bound token: the account under kubernetes.io, its lifetime from nbf and exp', () => {
    const claims = serviceAccountTokenClaims(
      jwt({
        aud: ['https://kubernetes.default.svc.cluster.local'],
        iat: 1_800_000_000,
        nbf: 1_800_000_060,
        exp: 1_807_776_000,
        'kubernetes.io': { namespace: 'isthmus-system', serviceaccount: { name: 'east-reader', uid: 'u' } },
      }),
    );
    expect(claims).toEqual({
      account: 'east-reader',
      notBefore: new Date(1_800_000_060_000),
      expiresAt: new Date(1_807_776_000_000),
    });
  });

  it('a legacy Secret token names its account and never expires', () => {
    const claims = serviceAccountTokenClaims(
      jwt({ 'kubernetes.io/serviceaccount/service-account.name': 'isthmus-remote-access' }),
    );
    expect(claims).toEqual({ account: 'isthmus-remote-access' });
  });

  it('ignores a date no Date can hold, rather than carrying an Invalid Date on', () => {
    expect(serviceAccountTokenClaims(jwt({ exp: 1e20, nbf: Number.MAX_VALUE, iat: 5 }))).toEqual({
      notBefore: new Date(5000),
    });
  });

  it('falls back to iat when there is no nbf, and ignores claims of the wrong type', () => {
    expect(serviceAccountTokenClaims(jwt({ iat: 10, exp: '20', 'kubernetes.io': 'x' }))).toEqual({
      notBefore: new Date(10_000),
    });
  });

  it.each([
    ['an opaque token', 'reader-secret-token'],
    ['a payload that is not JSON', 'e30.bm90IGpzb24.c2ln'],
    ['a JSON payload that is not an object', `e30.${Buffer.from('null').toString('base64url')}.c2ln`],
  ])('%s has no claims', (_name, token) => {
    expect(serviceAccountTokenClaims(token)).toBeUndefined();
  });
});

describe('kubeconfigTokenClaims', () => {
  it("reads the token of the kubeconfig's first user", () => {
    expect(kubeconfigTokenClaims(kubeconfig(jwt({ exp: 2_000_000_000 })))).toEqual({
      expiresAt: new Date(2_000_000_000_000),
    });
  });

  it.each([
    ['no token (a client certificate)', 'users: [{ name: u, user: { client-certificate-data: eA== } }]'],
    ['not YAML', ': : :'],
    ['empty', ''],
  ])('%s: undefined', (_name, text) => {
    expect(kubeconfigTokenClaims(text)).toBeUndefined();
  });
});

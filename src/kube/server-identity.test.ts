import type { PeerCertificate } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { checkServerIdentity } from './server-identity.js';

const cert = (subjectaltname: string) => ({ subjectaltname, subject: {} }) as unknown as PeerCertificate;
const SANS =
  'DNS:localhost, DNS:kubernetes, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, IP Address:FD00:0:0:0:0:0:0:A';

describe('checkServerIdentity (API server TLS)', () => {
  it.each([
    ['::1', SANS],
    ['fd00::a', SANS],
    ['127.0.0.1', SANS],
    ['localhost', SANS],
    ['::1', 'IP Address:::1'],
  ])('accepts %s against %s', (host, sans) => {
    expect(checkServerIdentity(host, cert(sans))).toBeUndefined();
  });

  it.each([
    ['::2', SANS, /IP: ::2 is not in the cert's list: 127\.0\.0\.1, ::1, fd00::a/],
    ['10.0.0.1', SANS, /IP: 10\.0\.0\.1 is not in the cert's list/],
    // An IP is matched against IP SANs only, never a DNS name that spells it.
    ['10.0.0.1', 'DNS:10.0.0.1', /IP: 10\.0\.0\.1 is not in the cert's list/],
    ['evil.example', SANS, /Host: evil\.example\. is not in the cert's altnames/],
  ])('refuses %s against %s', (host, sans, message) => {
    const err = checkServerIdentity(host, cert(sans));
    expect(err).toMatchObject({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
    expect(err?.message).toMatch(message);
  });
});

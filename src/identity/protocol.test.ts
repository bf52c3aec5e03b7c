import { fileURLToPath } from 'node:url';
import { loadSync } from '@grpc/proto-loader';
import { describe, expect, it } from 'vitest';
import {
  type CertifyRequest,
  type CertifyResponse,
  certifyRequestCodec,
  certifyResponseCodec,
  healthCheckResponseCodec,
  healthServiceDefinition,
  identityServiceDefinition,
  ServingStatus,
} from './protocol.js';

/** The hand-written codec must agree byte for byte with protobufjs reading the .proto files. */
const loaded = loadSync(
  [
    fileURLToPath(new URL('./identity.proto', import.meta.url)),
    fileURLToPath(new URL('./health.proto', import.meta.url)),
  ],
  { longs: Number, enums: Number, defaults: true },
);
type Method = { path: string; requestSerialize(m: object): Buffer; responseSerialize(m: object): Buffer };
const certify = (loaded['isthmus.identity.v1.Identity'] as Record<string, Method>).Certify!;
const check = (loaded['grpc.health.v1.Health'] as Record<string, Method>).Check!;
const deserializeResponse = (b: Buffer) =>
  (certify as unknown as { responseDeserialize(b: Buffer): object }).responseDeserialize(b);

describe('protocol codec agrees with identity.proto', () => {
  it('paths match the .proto services', () => {
    expect(identityServiceDefinition.Certify.path).toBe(certify.path);
    expect(healthServiceDefinition.Check.path).toBe(check.path);
  });

  it.each<CertifyRequest>([
    { token: 'abc', csrPem: '-----BEGIN CERTIFICATE REQUEST-----\nxyz\n' },
    { token: '', csrPem: '' },
    { token: 'ü'.repeat(300), csrPem: 'x' },
  ])('CertifyRequest %#', (msg) => {
    // protobufjs writes present-but-default fields, proto3 omits them: both decode the same.
    const theirs = certify.requestSerialize(msg);
    if (msg.token !== '') expect(certifyRequestCodec.encode(msg).equals(theirs)).toBe(true);
    expect(certifyRequestCodec.decode(theirs)).toEqual(msg);
    expect(certifyRequestCodec.decode(certifyRequestCodec.encode(msg))).toEqual(msg);
  });

  it.each<CertifyResponse>([
    { certPem: 'leaf', chainPem: 'leaf+issuer', notAfterUnixMs: 1_900_000_000_123 },
    { certPem: '', chainPem: '', notAfterUnixMs: 0 },
    { certPem: 'a', chainPem: 'b', notAfterUnixMs: -5 },
    { certPem: 'a', chainPem: 'b', notAfterUnixMs: Number.MAX_SAFE_INTEGER },
  ])('CertifyResponse %#', (msg) => {
    const theirs = certify.responseSerialize(msg);
    if (msg.certPem !== '') expect(certifyResponseCodec.encode(msg).equals(theirs)).toBe(true);
    expect(certifyResponseCodec.decode(theirs)).toEqual(msg);
    expect(deserializeResponse(certifyResponseCodec.encode(msg))).toEqual(msg);
  });

  it('HealthCheckResponse enum', () => {
    const theirs = check.responseSerialize({ status: ServingStatus.NOT_SERVING });
    expect(healthCheckResponseCodec.encode({ status: ServingStatus.NOT_SERVING }).equals(theirs)).toBe(true);
    expect(healthCheckResponseCodec.decode(theirs)).toEqual({ status: ServingStatus.NOT_SERVING });
  });

  it('skips unknown fields of every wire type, refuses truncation', () => {
    const known = certifyRequestCodec.encode({ token: 't', csrPem: 'c' });
    const unknown = Buffer.from([
      (9 << 3) | 0,
      0x96,
      0x01, // varint 150
      (10 << 3) | 1,
      1,
      2,
      3,
      4,
      5,
      6,
      7,
      8, // fixed64
      (11 << 3) | 2,
      2,
      0x41,
      0x42, // bytes
      (12 << 3) | 5,
      1,
      2,
      3,
      4, // fixed32
    ]);
    expect(certifyRequestCodec.decode(Buffer.concat([unknown, known]))).toEqual({ token: 't', csrPem: 'c' });
    expect(() => certifyRequestCodec.decode(known.subarray(0, known.length - 1))).toThrow(/truncated/);
  });
});

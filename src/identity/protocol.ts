import type { ServiceDefinition } from '@grpc/grpc-js';
import { type FieldSpec, type MessageCodec, messageCodec } from './proto-wire.js';

/** Messages and gRPC service definitions of identity.proto and health.proto (same folder). */

export interface CertifyRequest {
  token: string;
  csrPem: string;
}
export interface CertifyResponse {
  certPem: string;
  chainPem: string;
  notAfterUnixMs: number;
}
export interface HealthCheckRequest {
  service: string;
}
/** grpc.health.v1.HealthCheckResponse.ServingStatus */
export const ServingStatus = { UNKNOWN: 0, SERVING: 1, NOT_SERVING: 2, SERVICE_UNKNOWN: 3 } as const;
export type ServingStatus = (typeof ServingStatus)[keyof typeof ServingStatus];
export interface HealthCheckResponse {
  status: ServingStatus;
}

export const certifyRequestCodec = messageCodec<CertifyRequest>([
  { no: 1, name: 'token', kind: 'string' },
  { no: 2, name: 'csrPem', kind: 'string' },
]);
export const certifyResponseCodec = messageCodec<CertifyResponse>([
  { no: 1, name: 'certPem', kind: 'string' },
  { no: 2, name: 'chainPem', kind: 'string' },
  { no: 3, name: 'notAfterUnixMs', kind: 'int64' },
] satisfies FieldSpec<CertifyResponse>[]);
export const healthCheckRequestCodec = messageCodec<HealthCheckRequest>([
  { no: 1, name: 'service', kind: 'string' },
]);
export const healthCheckResponseCodec = messageCodec<HealthCheckResponse>([
  { no: 1, name: 'status', kind: 'enum' },
]);

function unary<Req, Res>(path: string, req: MessageCodec<Req>, res: MessageCodec<Res>) {
  return {
    path,
    requestStream: false,
    responseStream: false,
    requestSerialize: (m: Req) => req.encode(m),
    requestDeserialize: (b: Buffer) => req.decode(b),
    responseSerialize: (m: Res) => res.encode(m),
    responseDeserialize: (b: Buffer) => res.decode(b),
  } as const;
}

export const identityServiceDefinition = {
  Certify: unary('/isthmus.identity.v1.Identity/Certify', certifyRequestCodec, certifyResponseCodec),
} satisfies ServiceDefinition;

export const healthServiceDefinition = {
  Check: unary('/grpc.health.v1.Health/Check', healthCheckRequestCodec, healthCheckResponseCodec),
} satisfies ServiceDefinition;

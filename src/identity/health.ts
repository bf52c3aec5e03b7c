import { type Server, type ServiceError, status } from '@grpc/grpc-js';
import { callUnary } from './grpc-util.js';
import { healthServiceDefinition, ServingStatus } from './protocol.js';

/**
 * grpc.health.v1.Health/Check (grpc/grpc-proto health.proto). `statusOf` answers for a service name
 * ('' is the whole server); undefined means "no such service", which the protocol answers with
 * NOT_FOUND. The gateway's admin port can reuse this.
 */
export type HealthStatusFn = (service: string) => ServingStatus | undefined;

export function addHealthService(server: Server, statusOf: HealthStatusFn): void {
  server.addService(healthServiceDefinition, {
    Check: (
      call: { request: { service: string } },
      callback: (err: Partial<ServiceError> | null, res?: unknown) => void,
    ) => {
      const s = statusOf(call.request.service);
      if (s === undefined)
        callback({ code: status.NOT_FOUND, details: `unknown service "${call.request.service}"` });
      else callback(null, { status: s });
    },
  });
}

/** The status `address` reports for `service`, e.g. for `isthmus check` and readiness tests. */
export async function checkHealth(address: string, opts: { service?: string; timeoutMs?: number } = {}) {
  const res = await callUnary(
    address,
    healthServiceDefinition.Check,
    { service: opts.service ?? '' },
    opts.timeoutMs ?? 5000,
  );
  return res.status;
}

export { ServingStatus };

/** The readiness checks the lab makes of its processes, as their Deployments' probes would. */
import { connect } from 'node:net';
import { request } from 'undici';
import { hostPort } from '../../host-port.js';
import { checkHealth, ServingStatus } from '../../identity/health.js';

/** An HTTP GET answered 200 within 2 s (the gateway's and the controller's /ready). */
export async function httpReady(url: string): Promise<boolean> {
  try {
    const res = await request(url, { headersTimeout: 2000, bodyTimeout: 2000 });
    await res.body.dump();
    return res.statusCode === 200;
  } catch {
    return false;
  }
}

/** grpc.health.v1 answers SERVING within 2 s, in plaintext (identity's :9990, as its gRPC probes). */
export async function grpcServing(host: string, port: number): Promise<boolean> {
  try {
    return (await checkHealth(hostPort(host, port), { timeoutMs: 2000 })) === ServingStatus.SERVING;
  } catch {
    return false;
  }
}

/** A TCP connection accepted within 2 s (`lab status`: the identity's Certify port is open). */
export function tcpOpen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: 2000 });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.once('timeout', () => done(false));
  });
}

import {
  Client,
  credentials,
  Metadata,
  type Server,
  ServerCredentials,
  type ServiceError,
} from '@grpc/grpc-js';
import { hostPort } from '../host-port.js';

/** Small shared pieces of gRPC plumbing for the identity and health services. */

/** Binds `server` and resolves with the port actually bound (port 0 picks a free one). */
export function bindServer(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    // Plaintext on purpose: like Linkerd's identity on 8080, it is reached only inside the cluster,
    // the token authenticates the caller and the response holds nothing secret (no private key).
    server.bindAsync(hostPort(host, port), ServerCredentials.createInsecure(), (err, bound) =>
      err ? reject(err) : resolve(bound),
    );
  });
}

/** Graceful shutdown with a deadline, then force: in-flight calls get `graceMs` to finish. */
export function shutdownServer(server: Server, graceMs = 2000): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, graceMs);
    timer.unref();
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

export interface UnaryMethod<Req, Res> {
  path: string;
  requestSerialize(m: Req): Buffer;
  responseDeserialize(b: Buffer): Res;
}

/** One unary call on a fresh plaintext channel, closed afterwards; the deadline covers connecting too. */
export function callUnary<Req, Res>(
  address: string,
  method: UnaryMethod<Req, Res>,
  request: Req,
  timeoutMs: number,
): Promise<Res> {
  const client = new Client(address, credentials.createInsecure());
  return new Promise<Res>((resolve, reject) => {
    client.makeUnaryRequest(
      method.path,
      (m: Req) => method.requestSerialize(m),
      (b: Buffer) => method.responseDeserialize(b),
      request,
      // Wait for the channel to connect (up to the deadline) instead of failing at once: a server
      // that is still starting is the common case at rollout.
      new Metadata({ waitForReady: true }),
      { deadline: Date.now() + timeoutMs },
      (err: ServiceError | null, value?: Res) => (err || value === undefined ? reject(err) : resolve(value)),
    );
  }).finally(() => client.close());
}

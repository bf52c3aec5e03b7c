import {
  Client,
  type ClientUnaryCall,
  credentials,
  Metadata,
  type Server,
  ServerCredentials,
  type ServiceError,
  status,
} from '@grpc/grpc-js';
import { hostPort } from '../host-port.js';
import { type ServerVerification, serverNameOptions, tlsFailure, verifiedCredentials } from './grpc-tls.js';

/** Small shared pieces of gRPC plumbing for the identity and health services. */

/**
 * Binds `server` and resolves with the port actually bound (port 0 picks a free one). Certify binds
 * with TLS credentials (serving-cert.ts), as Linkerd's identity does: the gateway's token and CSR
 * cross the pod network. Plaintext is for the health port alone: the kubelet's gRPC probes speak no
 * TLS, and grpc.health.v1 answers SERVING or NOT_FOUND, nothing a listener could use.
 */
export function bindServer(
  server: Server,
  host: string,
  port: number,
  creds: ServerCredentials = ServerCredentials.createInsecure(),
): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(hostPort(host, port), creds, (err, bound) => (err ? reject(err) : resolve(bound)));
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

/**
 * One unary call on a fresh channel, closed afterwards; the deadline covers connecting too. With
 * `tls`, the server must pass `tls` (its chain and its identity) before the request is sent; a
 * server that does not fails the call at once, UNAVAILABLE with the reason, and a handshake that
 * kept failing otherwise is named in the deadline's error.
 */
export function callUnary<Req, Res>(
  address: string,
  method: UnaryMethod<Req, Res>,
  request: Req,
  timeoutMs: number,
  opts: { tls?: ServerVerification } = {},
): Promise<Res> {
  let call: ClientUnaryCall | undefined;
  let refused: string | undefined;
  let lastFailure: string | undefined;
  const onHandshakeFailure = (err: unknown) => {
    const failure = tlsFailure(err);
    lastFailure = failure.reason;
    if (failure.definitive && refused === undefined) {
      refused = failure.reason;
      call?.cancel();
    }
  };
  const client = opts.tls
    ? new Client(
        address,
        verifiedCredentials(opts.tls, onHandshakeFailure),
        serverNameOptions(address, opts.tls.serverName),
      )
    : new Client(address, credentials.createInsecure());
  return new Promise<Res>((resolve, reject) => {
    call = client.makeUnaryRequest(
      method.path,
      (m: Req) => method.requestSerialize(m),
      (b: Buffer) => method.responseDeserialize(b),
      request,
      // Wait for the channel to connect (up to the deadline) instead of failing at once: a server
      // that is still starting is the common case at rollout.
      new Metadata({ waitForReady: true }),
      { deadline: Date.now() + timeoutMs },
      (err: ServiceError | null, value?: Res) => {
        if (refused !== undefined) reject(serviceError(status.UNAVAILABLE, refused));
        else if (err && lastFailure !== undefined && err.code === status.DEADLINE_EXCEEDED)
          reject(serviceError(err.code, `${err.details}; last TLS handshake: ${lastFailure}`));
        else if (err || value === undefined) reject(err);
        else resolve(value);
      },
    );
    if (refused !== undefined) call.cancel();
  }).finally(() => client.close());
}

/** An error shaped as grpc-js's own, so callers read `code` and `details` alike. */
function serviceError(code: status, details: string): ServiceError {
  return Object.assign(new Error(`${code} ${status[code]}: ${details}`), {
    code,
    details,
    metadata: new Metadata(),
  });
}

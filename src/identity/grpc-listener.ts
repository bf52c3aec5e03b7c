/**
 * The identity service's listeners: a net.Server (health) or a tls.Server (Certify) of our own,
 * whose connections are handed to grpc-js through its public connection injector
 * (`Server.createConnectionInjector`). grpc-js's own `bindAsync` creates an http2 server we cannot
 * reach without its internals, and nothing there bounds connections or TLS handshakes; owning the
 * listener lets connection-guard.ts close a connection beyond a bound on arrival and lets the TLS
 * handshake have a short timeout. grpc-js still runs HTTP/2 (its options: streams per session,
 * session memory, idle and age limits, identity-limits.ts) on each connection it is given.
 *
 * TLS ends here, not in grpc-js: a finished handshake (ALPN h2) is injected into an insecure
 * injector, whose session still sees a TLSSocket (peer address and certificate as before). The
 * serving certificate reaches the tls.Server from the same CertificateProvider grpc-js read before:
 * new handshakes get the new certificate, open connections keep theirs.
 */
import net from 'node:net';
import tls from 'node:tls';
import { type experimental, type Server, ServerCredentials } from '@grpc/grpc-js';
import { type ConnectionGuard, type ConnectionRefusal, guardConnections } from '../connection-guard.js';
import { describeError, IsthmusError } from '../errors.js';
import { type CertifyLimits, connectionLifetimeMs, type ServerLimits } from './identity-limits.js';

export interface GrpcListenerOptions {
  host: string;
  port: number;
  /** The grpc-js server's own (grpcServerOptions) with the bounds it does not apply itself. */
  limits: ServerLimits & Partial<Pick<CertifyLimits, 'handshakeTimeoutMs'>>;
  /** TLS with this provider's identity certificate (no client certificate asked for); absent: plaintext. */
  tls?: experimental.CertificateProvider;
  onRefused?: (reason: ConnectionRefusal, address: string) => void;
}

export interface GrpcListener extends Omit<ConnectionGuard, 'destroyAll'> {
  port: number;
  /**
   * Stops accepting, awaits `drain` (grpc-js's shutdown of the sessions it was given), then cuts
   * the connections left (those still in their handshake).
   */
  close(drain: () => Promise<void>): Promise<void>;
}

const ALPN_H2 = 'h2';

/** Listens on `opts.host:opts.port` for `server`; resolves once listening, with the port bound. */
export async function listenForGrpc(server: Server, opts: GrpcListenerOptions): Promise<GrpcListener> {
  const { limits } = opts;
  const injector = server.createConnectionInjector(ServerCredentials.createInsecure());
  const inject = (socket: net.Socket): void => {
    // grpc-js ends a session (idle, age, shutdown) with socket.end(), then waits for the peer's FIN.
    socket.once('finish', () => cutLater(socket, limits.lingerMs));
    injector.injectConnection(socket);
  };
  const listener = opts.tls
    ? tlsListener(opts.tls, limits.handshakeTimeoutMs, inject)
    : plainListener(inject);
  const guard = guardConnections(listener.server, limits, opts.onRefused, listener.secure);
  const lifetimeMs = connectionLifetimeMs(limits);
  listener.server.on('connection', (socket: net.Socket) => {
    if (!socket.destroyed) cutLater(socket, lifetimeMs);
  });
  try {
    await new Promise<void>((resolve, reject) => {
      listener.server.once('error', reject);
      listener.server.listen({ host: opts.host, port: opts.port }, () => {
        listener.server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    listener.stop();
    injector.destroy();
    throw err;
  }
  const port = (listener.server.address() as net.AddressInfo).port;
  return {
    port,
    connections: guard.connections,
    handshakes: guard.handshakes,
    close: async (drain) => {
      listener.stop();
      const closed = new Promise<void>((resolve) => listener.server.close(() => resolve()));
      await drain();
      injector.destroy();
      guard.destroyAll();
      await closed;
    },
  };
}

function cutLater(socket: net.Socket, ms: number): void {
  const timer = setTimeout(() => socket.destroy(), ms);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}

interface Listener {
  /** What listens and accepts (the connection guard's). */
  server: net.Server;
  /** The TLS server the guard hands admitted connections to; absent for plaintext. */
  secure?: tls.Server;
  stop(): void;
}

function plainListener(inject: (socket: net.Socket) => void): Listener {
  const server = net.createServer((socket) => {
    // A connection the guard refused is already destroyed.
    if (!socket.destroyed) inject(socket);
  });
  return { server, stop: () => {} };
}

function tlsListener(
  provider: experimental.CertificateProvider,
  handshakeTimeoutMs: number | undefined,
  inject: (socket: net.Socket) => void,
): Listener {
  // Never listens: the guard accepts on `front` and hands it only the connections it admits.
  const server = tls.createServer({
    ALPNProtocols: [ALPN_H2],
    ...(handshakeTimeoutMs === undefined ? {} : { handshakeTimeout: handshakeTimeoutMs }),
  });
  const front = net.createServer();
  // No certificate until the provider's first update (next tick): a handshake before it fails.
  // A certificate the context refuses (a key that does not match) keeps the one in force serving;
  // the error, named, reaches the provider, which counts a failed renewal (serving-cert.ts).
  const onCertificate = (update: experimental.IdentityCertificateUpdate | null): void => {
    if (!update) return;
    try {
      server.setSecureContext({ cert: update.certificate, key: update.privateKey });
    } catch (err) {
      throw new IsthmusError(
        'CERT_INVALID',
        `the Certify listener cannot load the serving certificate: ${describeError(err)}`,
        { cause: err },
      );
    }
  };
  provider.addIdentityCertificateListener(onCertificate);
  server.on('secureConnection', (socket: tls.TLSSocket) => {
    // gRPC is HTTP/2 only (a grpc-js client always offers h2): a client without it has nothing to ask.
    if (socket.alpnProtocol !== ALPN_H2) {
      socket.destroy();
      return;
    }
    // Reset by the peer, or cut by grpc-js: Node asks the owner of a TLS socket to hear its errors.
    socket.on('error', () => {});
    inject(socket);
  });
  // A failed or timed-out handshake: nothing to keep.
  server.on('tlsClientError', (_err, socket) => socket.destroy());
  return {
    server: front,
    secure: server,
    stop: () => provider.removeIdentityCertificateListener(onCertificate),
  };
}

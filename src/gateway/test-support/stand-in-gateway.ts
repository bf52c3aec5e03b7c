/**
 * A stand-in for a remote gateway's ingress: a bare mTLS HTTP/2 server whose sessions a test can act
 * on (GOAWAY, refusing streams) where the real ingress would not let it. CONNECTs are piped to a TCP
 * backend, GETs (probes) answered 200.
 */
import http2, { type IncomingHttpHeaders, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import net from 'node:net';
import { ALPN_H2, type TunnelSecureContext, tlsContextOptions } from '../tunnel-settings.js';

export interface StandInGateway {
  address: { host: string; port: number };
  /** Every session accepted, in order (closed ones too). */
  sessions: ServerHttp2Session[];
  /** Streams seen so far. */
  streams(): number;
  close(): Promise<void>;
}

/**
 * Listens on 127.0.0.1 with `ctx`. `intercept` sees each stream first and returns true when it has
 * dealt with it (refused it, say); the others are served.
 */
export async function startStandInGateway(
  ctx: TunnelSecureContext,
  backendPort: number,
  intercept: (stream: ServerHttp2Stream, session: ServerHttp2Session) => boolean = () => false,
): Promise<StandInGateway> {
  const server = http2.createSecureServer({
    ...tlsContextOptions(ctx),
    requestCert: true,
    rejectUnauthorized: true,
    ALPNProtocols: [ALPN_H2],
  });
  const sessions: ServerHttp2Session[] = [];
  let streams = 0;
  server.on('session', (s) => sessions.push(s));
  server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    streams++;
    stream.on('error', () => {});
    if (intercept(stream, stream.session as ServerHttp2Session)) return;
    if (headers[':method'] === 'GET') {
      stream.respond({ ':status': 200 });
      stream.end('ready\n');
      return;
    }
    const socket = net.connect({ port: backendPort, host: '127.0.0.1' }, () => {
      stream.respond({ ':status': 200 });
      stream.pipe(socket).pipe(stream);
    });
    socket.on('error', () => stream.close(http2.constants.NGHTTP2_CONNECT_ERROR));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    address: { host: '127.0.0.1', port: (server.address() as net.AddressInfo).port },
    sessions,
    streams: () => streams,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sessions) s.destroy();
        server.close(() => r());
      }),
  };
}

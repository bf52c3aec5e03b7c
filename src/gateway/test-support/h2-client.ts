/** A bare HTTP/2-over-mTLS client for ingress tests: what a (mis)behaving peer gateway would send. */
import http2, {
  type ClientHttp2Session,
  type ClientSessionOptions,
  type OutgoingHttpHeaders,
} from 'node:http2';
import tls from 'node:tls';

export interface ClientTls {
  key?: string;
  cert?: string;
  ca: string;
}

export function h2connect(
  address: { host: string; port: number },
  creds: ClientTls,
  options: ClientSessionOptions = {},
): ClientHttp2Session {
  const session = http2.connect(`https://${address.host}:${address.port}`, {
    ...options,
    createConnection: () =>
      tls.connect({
        host: address.host,
        port: address.port,
        ...creds,
        ALPNProtocols: ['h2'],
        minVersion: 'TLSv1.3',
        checkServerIdentity: () => undefined,
      }),
  });
  session.on('error', () => {});
  return session;
}

export type Answer = { status: number; body: string } | { error: string; rstCode?: number };

/**
 * Sends one request (CONNECT when headers say so) and reports the answer or how it failed. Rejects
 * after `timeoutMs` (default 10 s) naming the request, so a server that never answers fails the
 * test with what was awaited instead of hanging until the test's own timeout.
 */
export function ask(
  session: ClientHttp2Session,
  headers: OutgoingHttpHeaders,
  timeoutMs = 10_000,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    let req: http2.ClientHttp2Stream;
    try {
      req = session.request(headers, { endStream: headers[':method'] !== 'CONNECT' });
    } catch (err) {
      resolve({ error: (err as Error).message });
      return;
    }
    const timer = setTimeout(() => {
      req.close(http2.constants.NGHTTP2_CANCEL);
      const what = `${headers[':method'] ?? 'GET'} ${headers[':authority'] ?? headers[':path'] ?? ''}`;
      reject(new Error(`no answer to ${what} within ${timeoutMs} ms`));
    }, timeoutMs);
    const settle = (answer: Answer): void => {
      clearTimeout(timer);
      resolve(answer);
    };
    let status = 0;
    let body = '';
    req.setEncoding('utf8');
    req.on('response', (h) => {
      status = Number(h[':status']);
      if (status === 200 && headers[':method'] === 'CONNECT') {
        req.close();
        settle({ status, body });
      }
    });
    req.on('data', (c: string) => {
      body += c;
    });
    req.on('end', () => settle(status ? { status, body } : { error: 'ended without response' }));
    req.on('error', (err: Error) => settle({ error: err.message, rstCode: req.rstCode }));
    req.on('close', () => settle(status ? { status, body } : { error: 'closed', rstCode: req.rstCode }));
  });
}

export const connectTo = (authority: string): OutgoingHttpHeaders => ({
  ':method': 'CONNECT',
  ':authority': authority,
});

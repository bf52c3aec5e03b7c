/**
 * The certificate chain a TLS server presents, read from a handshake we do not complete as a
 * client with a certificate. In TLS 1.3 (RFC 8446 §4.4) the server sends Certificate before it
 * learns whether the client has one, and the client's handshake finishes (`secureConnect`) before
 * the server rejects an empty client Certificate — so a gateway that requires client certificates
 * still shows its chain, and checking it needs no client credentials at all.
 *
 * Nothing is verified here (rejectUnauthorized: false): the caller verifies the chain against the
 * anchor it cares about, so it can say *why* a chain does not fit instead of "handshake failed".
 */
import { connect, type DetailedPeerCertificate } from 'node:tls';
import { hostPort } from '../../host-port.js';
import type { PeerChain } from './types.js';

const DEFAULT_TIMEOUT_MS = 5000;

function toPem(der: Buffer): string {
  const b64 = der.toString('base64').replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN CERTIFICATE-----\n${b64}-----END CERTIFICATE-----\n`;
}

/** Leaf first, following issuerCertificate links until the chain ends or loops (self-signed). */
export function chainFromPeer(peer: DetailedPeerCertificate | undefined): string[] {
  const pems: string[] = [];
  const seen = new Set<string>();
  let cert = peer;
  while (cert?.raw && !seen.has(cert.fingerprint256)) {
    seen.add(cert.fingerprint256);
    pems.push(toPem(cert.raw));
    cert = cert.issuerCertificate;
  }
  return pems;
}

export function fetchPeerChain(
  host: string,
  port: number,
  opts: { timeoutMs?: number; alpn?: string[] } = {},
): Promise<PeerChain> {
  const address = hostPort(host, port);
  return new Promise((resolve) => {
    let settled = false;
    const socket = connect({
      host,
      port,
      rejectUnauthorized: false,
      ALPNProtocols: opts.alpn ?? ['h2'],
      // SNI may not carry an IP address (RFC 6066 §3).
      ...(/^[\d.]+$|:/.test(host) ? {} : { servername: host }),
    });
    const finish = (result: PeerChain) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(
      () =>
        finish({
          ok: false,
          address,
          error: `no TLS handshake within ${opts.timeoutMs ?? DEFAULT_TIMEOUT_MS} ms`,
        }),
      opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    );
    socket.once('secureConnect', () => {
      const chainPem = chainFromPeer(socket.getPeerCertificate(true));
      finish(
        chainPem.length > 0
          ? { ok: true, address, chainPem }
          : { ok: false, address, error: 'no certificate presented' },
      );
    });
    socket.once('error', (err: NodeJS.ErrnoException) =>
      finish({ ok: false, address, error: err.code ? `${err.code}: ${err.message}` : err.message }),
    );
  });
}

/**
 * The client side of gRPC over TLS to a server that holds a SPIFFE identity (Certify): trust only the
 * given anchors (never the system's roots), TLS 1.3, and instead of a host-name check a check of
 * the server's certificate itself, so an address that is an IP (`127.0.0.2:8080`) or a Service name
 * works alike. grpc-js keeps why a connection failed to itself (a waitForReady call just waits for
 * its deadline), so the connector is wrapped to hear each handshake failure: the caller can then
 * name the reason, and give up at once when waiting cannot help.
 */
import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import tls, { type DetailedPeerCertificate, type PeerCertificate } from 'node:tls';
import {
  type CallCredentials,
  ChannelCredentials,
  type ChannelOptions,
  credentials,
  type experimental,
} from '@grpc/grpc-js';
import { describeError } from '../errors.js';

export interface ServerVerification {
  /** PEM, one or more anchors (a bundle during an anchor rotation): the server's chain must reach one. */
  caPem: string;
  /**
   * Why this server certificate is not the one wanted, or undefined. Replaces host-name checking.
   * `issuer`: the certificate Node shows above it, for revocation checks: the first one the server
   * sent with the right Name, not necessarily the one OpenSSL verified with (revocation.ts checks
   * that it could be).
   */
  identityProblem(cert: X509Certificate, issuer: X509Certificate | undefined): string | undefined;
  /** TLS SNI. An IP literal is not allowed there (RFC 6066, and Node warns), so give a name then. */
  serverName?: string;
}

/** Raised from checkServerIdentity: the chain verified, but the certificate is not the wanted one. */
class WrongServerIdentity extends Error {
  readonly code = 'ERR_ISTHMUS_WRONG_SERVER_IDENTITY';
}

/**
 * Channel credentials for `v`, reporting every TLS handshake failure to `onFailure` (the TCP
 * connection had been made: a refused connection is not a handshake failure).
 */
export function verifiedCredentials(
  v: ServerVerification,
  onFailure: (err: unknown) => void,
): ChannelCredentials {
  const context = tls.createSecureContext({ ca: v.caPem, minVersion: 'TLSv1.3' });
  const inner = credentials.createFromSecureContext(context, {
    // Node passes the detailed form here (tls.connect): the chain through issuerCertificate, as Node
    // matched it by Name in what the server sent (revocation.ts believes it only if it verifies).
    checkServerIdentity: (_host: string, cert: PeerCertificate) => {
      const above = (cert as DetailedPeerCertificate).issuerCertificate;
      const issuer = above?.raw && above !== cert ? new X509Certificate(above.raw) : undefined;
      const problem = v.identityProblem(new X509Certificate(cert.raw), issuer);
      return problem === undefined ? undefined : new WrongServerIdentity(problem);
    },
  });
  return new ObservedCredentials(inner, onFailure);
}

/** `grpc.ssl_target_name_override` for `address` when its host is an IP literal, else nothing. */
export function serverNameOptions(address: string, serverName: string | undefined): ChannelOptions {
  const host = address.startsWith('[') ? address.slice(1, address.indexOf(']')) : address.split(':')[0]!;
  return serverName !== undefined && isIP(host) !== 0 ? { 'grpc.ssl_target_name_override': serverName } : {};
}

/**
 * grpc-js's ChannelCredentials are abstract with these three members in its public typings; this
 * delegates to the real ones and only listens to `connect` (the TLS handshake).
 */
class ObservedCredentials extends ChannelCredentials {
  constructor(
    private readonly inner: ChannelCredentials,
    private readonly onFailure: (err: unknown) => void,
  ) {
    super();
  }

  override _isSecure(): boolean {
    return true;
  }

  /** Never equal to another: grpc-js would otherwise share a subchannel, and its failures, between calls. */
  override _equals(other: ChannelCredentials): boolean {
    return other === this;
  }

  override _createSecureConnector(
    target: experimental.GrpcUri,
    options: ChannelOptions,
    callCredentials?: CallCredentials,
  ): experimental.SecureConnector {
    const connector = this.inner._createSecureConnector(target, options, callCredentials);
    return {
      connect: (socket) =>
        connector.connect(socket).catch((err: unknown) => {
          this.onFailure(err);
          throw err;
        }),
      waitForReady: () => connector.waitForReady(),
      getCallCredentials: () => connector.getCallCredentials(),
      destroy: () => connector.destroy(),
    };
  }
}

/** OpenSSL's certificate verification results, as Node names them in `err.code`. */
const VERIFY_CODE =
  /^(UNABLE_TO_|CERT_|CRL_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|INVALID_|PATH_LENGTH_EXCEEDED|ERROR_IN_)/;
/** Those that mean no path to an anchor: another CA signed it (or a self-signed certificate). */
const NO_PATH_CODE =
  /^(UNABLE_TO_GET_ISSUER_CERT|UNABLE_TO_GET_ISSUER_CERT_LOCALLY|UNABLE_TO_VERIFY_LEAF_SIGNATURE|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|CERT_UNTRUSTED)$/;

/**
 * What a failed handshake means, in words, and whether it is `definitive`: the server answered and
 * is not the one wanted (its certificate, or no TLS at all), so waiting for the deadline cannot
 * help; a reset or a closed connection may be a server that is restarting.
 */
export function tlsFailure(err: unknown): { reason: string; definitive: boolean } {
  const e = err as { code?: string; message?: string };
  const code = e.code ?? '';
  if (err instanceof WrongServerIdentity) return { reason: err.message, definitive: true };
  if (NO_PATH_CODE.test(code))
    return {
      reason: `its certificate does not chain to our trust anchor (${e.message}): another install's or another CA's server`,
      definitive: true,
    };
  if (VERIFY_CODE.test(code)) return { reason: `its certificate is refused: ${e.message}`, definitive: true };
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG')
    return {
      reason: `it does not speak TLS (${opensslReason(e.message)}): a plaintext server, such as an identity service older than this gateway`,
      definitive: true,
    };
  if (code.startsWith('ERR_SSL_'))
    return { reason: `TLS handshake refused: ${opensslReason(e.message)}`, definitive: true };
  return { reason: `TLS handshake failed: ${describeError(err)}`, definitive: false };
}

/** "…:SSL routines:ssl3_get_record:wrong version number:…" → "wrong version number". */
function opensslReason(message: string | undefined): string {
  const m = /SSL routines:[^:]*:([^:]+)/.exec(message ?? '');
  return m?.[1] ?? (message ?? '').trim();
}

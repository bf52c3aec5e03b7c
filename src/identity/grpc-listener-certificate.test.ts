/**
 * A serving certificate the Certify listener cannot load (its key does not match) leaves the one in
 * force serving, and the listener names the failure to the provider (which counts a failed renewal:
 * serving-cert-listeners.test.ts) instead of an anonymous OpenSSL error. Real TLS on loopback.
 */
import tls from 'node:tls';
import { type experimental, Server } from '@grpc/grpc-js';
import { afterEach, expect, it } from 'vitest';
import { isIsthmusError } from '../errors.js';
import { createTrustAnchor } from './ca.js';
import { type GrpcListener, listenForGrpc } from './grpc-listener.js';
import { CERTIFY_LIMITS } from './identity-limits.js';

type Listener = experimental.IdentityCertificateUpdateListener;

let listener: GrpcListener | undefined;
const server = new Server();
afterEach(async () => {
  await listener?.close(async () => {});
  listener = undefined;
});

/** The serial of the certificate the listener presents (only read here: no verification). */
function served(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ALPNProtocols: ['h2'], rejectUnauthorized: false });
    socket.once('secureConnect', () => {
      resolve(socket.getPeerX509Certificate()!.serialNumber);
      socket.destroy();
    });
    socket.once('error', reject);
  });
}

it('keeps serving the certificate in force when the new one cannot be loaded, and says why', async () => {
  const good = createTrustAnchor({ trustDomain: 'cluster.local', keyBits: 2048 });
  const other = createTrustAnchor({ trustDomain: 'cluster.local', keyBits: 2048 });
  const listeners: Listener[] = [];
  const provider = {
    addIdentityCertificateListener: (l: Listener) => listeners.push(l),
    removeIdentityCertificateListener: () => {},
    addCaCertificateListener: () => {},
    removeCaCertificateListener: () => {},
  } as unknown as experimental.CertificateProvider;
  listener = await listenForGrpc(server, {
    host: '127.0.0.1',
    port: 0,
    limits: CERTIFY_LIMITS,
    tls: provider,
  });
  listeners[0]!({ certificate: Buffer.from(good.certPem), privateKey: Buffer.from(good.keyPem) });
  const before = await served(listener.port);

  let thrown: unknown;
  try {
    listeners[0]!({ certificate: Buffer.from(other.certPem), privateKey: Buffer.from(good.keyPem) });
  } catch (err) {
    thrown = err;
  }
  expect(isIsthmusError(thrown, 'CERT_INVALID')).toBe(true);
  expect((thrown as Error).message).toMatch(/Certify listener cannot load the serving certificate/);
  expect(await served(listener.port)).toBe(before);
});

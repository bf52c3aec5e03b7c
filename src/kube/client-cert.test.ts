/**
 * Client-certificate kubeconfigs (what `kind` and kubeadm write for the admin user) through the
 * transport: the CA, the client certificate and key, and tls-server-name all reach the TLS layer.
 * The server is a raw node:https stand-in that requires a client certificate from its CA.
 */
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIssuer, createTrustAnchor, issueLeaf } from '../identity/ca.js';
import { KubeClient } from './client.js';
import { R } from './resources.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const TRUST_DOMAIN = 'test.local';

let server: https.Server;
let port: number;
let caPem: string;
let client: { certPem: string; keyPem: string };
let foreignCaPem: string;

beforeAll(async () => {
  const anchor = createTrustAnchor({ trustDomain: TRUST_DOMAIN, keyBits: 2048 });
  const issuer = createIssuer(anchor, { cluster: 'east', trustDomain: TRUST_DOMAIN });
  const serving = issueLeaf(issuer, { uriSans: [], dnsSans: ['api.east.test'], commonName: 'apiserver' });
  const admin = issueLeaf(issuer, { uriSans: [], commonName: 'kubernetes-admin' });
  caPem = anchor.certPem;
  client = { certPem: admin.certPem + issuer.certPem, keyPem: admin.keyPem ?? '' };
  foreignCaPem = createTrustAnchor({ trustDomain: 'other.test', keyBits: 2048 }).certPem;
  server = https.createServer(
    {
      cert: serving.certPem + issuer.certPem,
      key: serving.keyPem,
      ca: [anchor.certPem, issuer.certPem],
      requestCert: true,
      rejectUnauthorized: true,
    },
    (req, res) => {
      const peer = (req.socket as TLSSocket).getPeerCertificate();
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'Namespace', apiVersion: 'v1', metadata: { name: peer.subject.CN } }));
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

function kubeconfig(opts: { ca: string; withClientCert: boolean }): string {
  const user = opts.withClientCert
    ? `{ client-certificate-data: ${b64(client.certPem)}, client-key-data: ${b64(client.keyPem)} }`
    : '{ token: not-a-certificate }';
  return `apiVersion: v1
kind: Config
current-context: kind-east
clusters:
- name: kind-east
  cluster: { server: "https://127.0.0.1:${port}", certificate-authority-data: ${b64(opts.ca)}, tls-server-name: api.east.test }
users: [{ name: admin, user: ${user} }]
contexts: [{ name: kind-east, context: { cluster: kind-east, user: admin } }]
`;
}

async function whoAmI(config: string): Promise<string | undefined> {
  const kube = KubeClient.fromKubeconfigString(config);
  try {
    return (await kube.get<{ metadata?: { name?: string } }>(R.namespaces, undefined, 'me'))?.metadata?.name;
  } finally {
    kube.close();
  }
}

describe('client-certificate kubeconfig', () => {
  it('presents the client certificate and verifies the server by CA and tls-server-name', async () => {
    expect(await whoAmI(kubeconfig({ ca: caPem, withClientCert: true }))).toBe('kubernetes-admin');
  });

  it('without a client certificate the handshake is refused: KUBE_API_UNAVAILABLE, not a hang', async () => {
    await expect(whoAmI(kubeconfig({ ca: caPem, withClientCert: false }))).rejects.toMatchObject({
      code: 'KUBE_API_UNAVAILABLE',
    });
  });

  it('a server whose certificate is not from the kubeconfig CA is refused with the TLS reason', async () => {
    const err = await whoAmI(kubeconfig({ ca: foreignCaPem, withClientCert: true })).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'KUBE_API_UNAVAILABLE' });
    expect(String((err as Error).message)).toMatch(/certificate/i);
  });
});

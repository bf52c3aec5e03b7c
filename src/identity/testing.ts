import { X509Certificate } from 'node:crypto';
import { mkdirSync, mkdtempSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import {
  Client,
  Metadata,
  Server,
  ServerCredentials,
  type ServerUnaryCall,
  type ServiceError,
  status,
} from '@grpc/grpc-js';
import {
  chainOf,
  createIssuer,
  createTrustAnchor,
  issueGatewayCertificate,
  issueLeaf,
  type KeyPairPem,
} from './ca.js';
import { type IdentityServiceTrust, identityServerProblem } from './certify-client.js';
import { createCrl } from './crl.js';
import { createCsr } from './csr.js';
import { serverNameOptions, verifiedCredentials } from './grpc-tls.js';
import { bindServer } from './grpc-util.js';
import { generateRsaKey, type KeyPem } from './keys.js';
import { type CertifyRequest, type CertifyResponse, identityServiceDefinition } from './protocol.js';
import { identityServiceId } from './spiffe.js';

/**
 * Shared certificate fixtures for tests (this part's and other parts'). RSA keys cost 50–200 ms each,
 * so every fixture is made once per test process, on first use, with 2048-bit keys throughout.
 */
export const TEST_TRUST_DOMAIN = 'cluster.local';

export interface TestPki {
  trustDomain: string;
  anchor: KeyPairPem;
  issuers: { east: KeyPairPem; west: KeyPairPem };
}

let pki: TestPki | undefined;
let foreign: TestPki | undefined;

/** Anchor plus issuers for clusters `east` and `west`. */
export function testPki(): TestPki {
  pki ??= makePki('root.cluster.local');
  return pki;
}

/** A second, unrelated PKI with the same names: its certificates must be refused everywhere. */
export function foreignTestPki(): TestPki {
  foreign ??= makePki('root.cluster.local');
  return foreign;
}

function makePki(commonName: string): TestPki {
  const anchor = createTrustAnchor({ trustDomain: TEST_TRUST_DOMAIN, commonName, keyBits: 2048 });
  const issuer = (cluster: string) => createIssuer(anchor, { cluster, trustDomain: TEST_TRUST_DOMAIN });
  return { trustDomain: TEST_TRUST_DOMAIN, anchor, issuers: { east: issuer('east'), west: issuer('west') } };
}

const gatewayCerts = new Map<string, ReturnType<typeof issueGatewayCertificate>>();

/** A 24 h gateway certificate for `cluster` under testPki(), made once per process. */
export function testGatewayCertificate(cluster: 'east' | 'west'): ReturnType<typeof issueGatewayCertificate> {
  let cert = gatewayCerts.get(cluster);
  if (cert === undefined) {
    cert = issueGatewayCertificate(testPki().issuers[cluster], { trustDomain: TEST_TRUST_DOMAIN, cluster });
    gatewayCerts.set(cluster, cert);
  }
  return cert;
}

/** What a gateway of `cluster` requires of its identity service under testPki() (requestCertificate's `server`). */
export function testIdentityTrust(cluster: 'east' | 'west' = 'east'): IdentityServiceTrust {
  return { anchorPem: testPki().anchor.certPem, serverId: identityServiceId(TEST_TRUST_DOMAIN, cluster) };
}

/**
 * A serving certificate (chain + key) with these URI SANs, from `issuer`: for fake identity
 * services, e.g. one holding a gateway's identity or one of a foreign CA.
 */
export function testServingCertificate(
  issuer: KeyPairPem,
  uriSans: string[],
): { chainPem: string; keyPem: string } {
  const leaf = issueLeaf(issuer, { uriSans, publicKeyPem: testLeafKey().publicKeyPem });
  return { chainPem: chainOf(leaf.certPem, issuer), keyPem: testLeafKey().privateKeyPem };
}

/**
 * What a TLS server at `host:port` presents to a new connection, verified against `anchorPem`
 * (whatever its names): its certificate and the issuer above it. Fails after 5 s.
 */
export function presentedChain(
  address: string,
  anchorPem: string,
): Promise<{ leaf: X509Certificate; issuer: X509Certificate | undefined }> {
  const at = address.lastIndexOf(':');
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: address.slice(0, at),
      port: Number(address.slice(at + 1)),
      ca: anchorPem,
      servername: 'isthmus-identity',
      ALPNProtocols: ['h2'],
      checkServerIdentity: () => undefined,
      timeout: 5000,
    });
    socket.once('secureConnect', () => {
      const peer = socket.getPeerCertificate(true);
      const above = peer.issuerCertificate;
      resolve({
        leaf: new X509Certificate(peer.raw),
        issuer: above && above !== peer ? new X509Certificate(above.raw) : undefined,
      });
      socket.destroy();
    });
    socket.once('timeout', () => socket.destroy(new Error(`no TLS handshake with ${address} in 5 s`)));
    socket.once('error', reject);
  });
}

/** gRPC server credentials presenting `c` (e.g. testServingCertificate's), no client certificate asked for. */
export function servingCredentials(c: { chainPem: string; keyPem: string }): ServerCredentials {
  return ServerCredentials.createSsl(
    null,
    [{ cert_chain: Buffer.from(c.chainPem), private_key: Buffer.from(c.keyPem) }],
    false,
  );
}

/**
 * A Certify service over `creds` that records every token it is sent and answers nothing useful:
 * what a gateway must never send its token to (another CA's server, a revoked certificate, …).
 */
export async function startFakeIdentity(
  creds: ServerCredentials,
): Promise<{ address: string; tokens: string[]; close(): void }> {
  const tokens: string[] = [];
  const server = new Server();
  server.addService(identityServiceDefinition, {
    Certify: (
      call: ServerUnaryCall<CertifyRequest, CertifyResponse>,
      callback: (err: Partial<ServiceError> | null) => void,
    ) => {
      tokens.push(call.request.token);
      callback({ code: status.INTERNAL, details: 'a fake identity service' });
    },
  });
  const port = await bindServer(server, '127.0.0.1', 0, creds);
  return { address: `127.0.0.1:${port}`, tokens, close: () => server.forceShutdown() };
}

/**
 * A Certify client of east's identity service at `address` that keeps its channel: its connection,
 * once made, serves every call on it (a gateway's own client makes a channel per call).
 */
export function testIdentityClient(address: string): Client {
  const trust = testIdentityTrust('east');
  return new Client(
    address,
    verifiedCredentials(
      { caPem: trust.anchorPem, identityProblem: (c) => identityServerProblem(c, trust.serverId) },
      () => {},
    ),
    serverNameOptions(address, 'isthmus-identity'),
  );
}

/** A Certify call with `token` on `client`'s channel (testIdentityClient), a 10 s deadline. */
export function certifyOn(client: Client, token = 'token'): Promise<CertifyResponse> {
  const m = identityServiceDefinition.Certify;
  return new Promise((resolve, reject) =>
    client.makeUnaryRequest(
      m.path,
      (r: CertifyRequest) => m.requestSerialize(r),
      (b: Buffer) => m.responseDeserialize(b),
      { token, csrPem: createCsr(testLeafKey().privateKeyPem) },
      new Metadata({ waitForReady: true }),
      { deadline: Date.now() + 10_000 },
      (err: ServiceError | null, res?: CertifyResponse) => (err || !res ? reject(err) : resolve(res)),
    ),
  );
}

/** A CRL bundle as `isthmus certs revoke` writes it: `signer`'s certificate and its CRL listing `serials`. */
export function testCrlBundle(signer: KeyPairPem, serials: string[]): string {
  const crl = createCrl({
    issuerCertPem: signer.certPem,
    issuerKeyPem: signer.keyPem,
    revoked: serials.map((serial) => ({ serial, revokedAt: new Date(), reason: 'keyCompromise' })),
    crlNumber: 1n,
  });
  return signer.certPem + crl;
}

let leafKey: KeyPem | undefined;

/**
 * One key pair to certify again and again (`issueLeaf(issuer, { publicKeyPem: testLeafKey().publicKeyPem })`)
 * where a test needs a certificate but does not care whose key it holds.
 */
export function testLeafKey(): KeyPem {
  leafKey ??= generateRsaKey();
  return leafKey;
}

/**
 * A Secret volume as kubelet writes it: the files are symlinks through `..data`, which points at a
 * timestamped directory; an update writes a new directory and renames one symlink over `..data`.
 */
export class SecretVolume {
  readonly dir = mkdtempSync(join(tmpdir(), 'isthmus-issuer-'));
  private generation = 0;

  constructor(files: Record<string, string>) {
    this.publish(files);
    for (const name of Object.keys(files)) symlinkSync(join('..data', name), join(this.dir, name));
  }

  publish(files: Record<string, string>): void {
    const version = `..${++this.generation}`;
    mkdirSync(join(this.dir, version));
    for (const [name, text] of Object.entries(files)) writeFileSync(join(this.dir, version, name), text);
    symlinkSync(version, join(this.dir, '..data_tmp'));
    renameSync(join(this.dir, '..data_tmp'), join(this.dir, '..data'));
  }
}

/**
 * The samples of one metric in a Prometheus text exposition, by their label set as written
 * (`{result="issued"}`, or `''` for a metric without labels): what a scrape would read.
 */
export function samplesOf(exposition: string, name: string): Record<string, number> {
  const samples: Record<string, number> = {};
  for (const line of exposition.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const at = line.lastIndexOf(' ');
    samples[line.slice(name.length, at)] = Number(line.slice(at + 1));
  }
  return samples;
}

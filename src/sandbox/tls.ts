/**
 * A self-signed CA and a serving certificate for one sandbox (what kubeadm does for a cluster:
 * the CA goes into kubeconfig as certificate-authority-data). RSA keys come from node:crypto
 * (fast native generation) and are reused within a process; certificates are signed with node-forge.
 */
import { constants, generateKeyPairSync, privateEncrypt } from 'node:crypto';
import { isIP } from 'node:net';
import forge from 'node-forge';
// The identity CA's serials: minimal DER. `& 0x7f` alone let one serial in ~131,000 start
// 00 00 and fail to parse ("illegal padding"), which a shuffled test run hit in a sandbox.
import { serialNumber } from '../identity/ca.js';

export interface ServingCerts {
  caPem: string;
  certPem: string;
  keyPem: string;
}

let keyCache:
  | { ca: forge.pki.rsa.KeyPair; caKeyPem: string; server: forge.pki.rsa.KeyPair; serverKeyPem: string }
  | undefined;

/** DER prefix of a SHA-256 DigestInfo (RFC 8017 §9.2 note 1). */
const SHA256_DIGEST_INFO = Buffer.from('3031300d060960864801650304020105000420', 'hex');

/**
 * A forge-compatible signer backed by node:crypto: forge's RSA in pure JS takes ~100 ms per
 * signature, which every sandbox start would pay twice. PKCS#1 v1.5 = private-key "encryption"
 * of the DigestInfo with type-1 padding.
 */
function nativeSigner(keyPem: string): forge.pki.rsa.PrivateKey {
  return {
    sign: (md: forge.md.MessageDigest) => {
      const digest = Buffer.from(md.digest().getBytes(), 'binary');
      const sig = privateEncrypt(
        { key: keyPem, padding: constants.RSA_PKCS1_PADDING },
        Buffer.concat([SHA256_DIGEST_INFO, digest]),
      );
      return sig.toString('binary');
    },
  } as unknown as forge.pki.rsa.PrivateKey;
}

function rsaPair(): { pair: forge.pki.rsa.KeyPair; pem: string } {
  const { privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const priv = forge.pki.privateKeyFromPem(privateKey) as forge.pki.rsa.PrivateKey;
  const pub = forge.pki.setRsaPublicKey(priv.n, priv.e);
  return { pair: { privateKey: priv, publicKey: pub }, pem: privateKey };
}

function keys() {
  if (!keyCache) {
    const server = rsaPair();
    const ca = rsaPair();
    keyCache = { ca: ca.pair, caKeyPem: ca.pem, server: server.pair, serverKeyPem: server.pem };
  }
  return keyCache;
}

function validity(cert: forge.pki.Certificate): void {
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 365 * 24 * 3600_000);
}

export function makeServingCerts(clusterName: string, hosts: string[]): ServingCerts {
  const k = keys();
  const ca = forge.pki.createCertificate();
  ca.publicKey = k.ca.publicKey;
  ca.serialNumber = serialNumber();
  validity(ca);
  const caSubject = [{ name: 'commonName', value: `${clusterName}-sandbox-ca` }];
  ca.setSubject(caSubject);
  ca.setIssuer(caSubject);
  ca.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  ca.sign(nativeSigner(k.caKeyPem), forge.md.sha256.create());

  const cert = forge.pki.createCertificate();
  cert.publicKey = k.server.publicKey;
  cert.serialNumber = serialNumber();
  validity(cert);
  cert.setSubject([{ name: 'commonName', value: 'kube-apiserver' }]);
  cert.setIssuer(caSubject);
  const names = new Set([
    'localhost',
    'kubernetes',
    'kubernetes.default',
    'kubernetes.default.svc',
    '127.0.0.1',
    ...hosts,
  ]);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    {
      name: 'subjectAltName',
      altNames: [...names].map((n) => (isIP(n) ? { type: 7, ip: n } : { type: 2, value: n })),
    },
  ]);
  cert.sign(nativeSigner(k.caKeyPem), forge.md.sha256.create());
  return {
    caPem: forge.pki.certificateToPem(ca),
    certPem: forge.pki.certificateToPem(cert),
    keyPem: k.serverKeyPem,
  };
}

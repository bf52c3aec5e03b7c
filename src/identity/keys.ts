import { generateKeyPair, generateKeyPairSync } from 'node:crypto';
import { promisify } from 'node:util';

/**
 * Key generation through Node's native implementation (OpenSSL): forge's pure-JS prime search is
 * ~10x slower, and forge makes no ECDSA keys at all. Keys go on as PKCS#8 PEM.
 *
 * Leaves (a gateway's Certify key, identity's serving certificate) are ECDSA P-256, as Linkerd
 * proxies' keys are: in TLS 1.3 the server signs its CertificateVerify before the client has proven
 * anything, and a P-256 signature costs a fraction of an RSA-2048 one (bench/handshake.ts), as does
 * making the key at each renewal. CAs that `isthmus certs` makes stay RSA.
 */
export interface KeyPem {
  /** PKCS#8 `PRIVATE KEY` PEM: what node:tls and node:crypto read. */
  privateKeyPem: string;
  /** SPKI `PUBLIC KEY` PEM. */
  publicKeyPem: string;
}

/** 2048 bits: NIST SP 800-57 Pt. 1 Rev. 5 Table 2 puts it at 112-bit security, enough through 2030. */
export const LEAF_KEY_BITS = 2048;
/** 3072 bits (128-bit security) for the long-lived anchor. */
export const ANCHOR_KEY_BITS = 3072;

/** A leaf key: ECDSA on P-256 (128-bit security, what Isthmus makes), or RSA 2048 (tests, older peers). */
export type LeafKeyType = 'ecdsa-p256' | 'rsa-2048';
export const DEFAULT_LEAF_KEY_TYPE: LeafKeyType = 'ecdsa-p256';

const SPKI_PEM = { type: 'spki', format: 'pem' } as const;
const PKCS8_PEM = { type: 'pkcs8', format: 'pem' } as const;

export function generateRsaKey(bits: number = LEAF_KEY_BITS): KeyPem {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: bits,
    publicKeyEncoding: SPKI_PEM,
    privateKeyEncoding: PKCS8_PEM,
  });
  return { privateKeyPem: privateKey, publicKeyPem: publicKey };
}

/** ECDSA on P-256 (`prime256v1`), named-curve parameters and an uncompressed point (RFC 5480). */
export function generateEcKey(): KeyPem {
  const { privateKey, publicKey } = generateKeyPairSync('ec', {
    namedCurve: 'prime256v1',
    publicKeyEncoding: SPKI_PEM,
    privateKeyEncoding: PKCS8_PEM,
  });
  return { privateKeyPem: privateKey, publicKeyPem: publicKey };
}

export function generateLeafKey(type: LeafKeyType = DEFAULT_LEAF_KEY_TYPE): KeyPem {
  return type === 'rsa-2048' ? generateRsaKey(LEAF_KEY_BITS) : generateEcKey();
}

const generateKeyPairAsync = promisify(generateKeyPair);

/** Off the event loop: for long-running processes (rotation) that must keep serving meanwhile. */
export async function generateRsaKeyAsync(bits: number = LEAF_KEY_BITS): Promise<KeyPem> {
  const { privateKey, publicKey } = await generateKeyPairAsync('rsa', {
    modulusLength: bits,
    publicKeyEncoding: SPKI_PEM,
    privateKeyEncoding: PKCS8_PEM,
  });
  return { privateKeyPem: privateKey, publicKeyPem: publicKey };
}

/** A leaf key made off the event loop (ECDSA P-256 unless asked otherwise). */
export async function generateLeafKeyAsync(type: LeafKeyType = DEFAULT_LEAF_KEY_TYPE): Promise<KeyPem> {
  if (type === 'rsa-2048') return generateRsaKeyAsync(LEAF_KEY_BITS);
  const { privateKey, publicKey } = await generateKeyPairAsync('ec', {
    namedCurve: 'prime256v1',
    publicKeyEncoding: SPKI_PEM,
    privateKeyEncoding: PKCS8_PEM,
  });
  return { privateKeyPem: privateKey, publicKeyPem: publicKey };
}

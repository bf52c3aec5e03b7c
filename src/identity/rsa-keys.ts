import { generateKeyPair, generateKeyPairSync } from 'node:crypto';
import { promisify } from 'node:util';

/**
 * RSA key generation through Node's native implementation (OpenSSL). node-forge can only put RSA
 * keys into X.509, and its pure-JS prime search is ~10x slower than OpenSSL's, so keys are made here
 * and handed to forge as PEM.
 */
export interface RsaKeyPem {
  /** PKCS#8 `PRIVATE KEY` PEM: what node:tls and forge both read. */
  privateKeyPem: string;
  /** SPKI `PUBLIC KEY` PEM. */
  publicKeyPem: string;
}

/** 2048 bits: NIST SP 800-57 Pt. 1 Rev. 5 Table 2 puts it at 112-bit security, enough through 2030. */
export const LEAF_KEY_BITS = 2048;
/** 3072 bits (128-bit security) for the long-lived anchor. */
export const ANCHOR_KEY_BITS = 3072;

export function generateRsaKey(bits: number = LEAF_KEY_BITS): RsaKeyPem {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: bits,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { privateKeyPem: privateKey, publicKeyPem: publicKey };
}

const generateKeyPairAsync = promisify(generateKeyPair);

/** Off the event loop: for long-running processes (rotation) that must keep serving meanwhile. */
export async function generateRsaKeyAsync(bits: number = LEAF_KEY_BITS): Promise<RsaKeyPem> {
  const { privateKey, publicKey } = await generateKeyPairAsync('rsa', {
    modulusLength: bits,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { privateKeyPem: privateKey, publicKeyPem: publicKey };
}

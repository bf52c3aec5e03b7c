/**
 * Certificates for both pairs, minted under one trust anchor (src/identity): ECDSA P-256 leaves,
 * as gateways get them from Certify (RSA 2048 before 2026-11-25). The gateways read
 * chain/key/anchor files; haproxy reads chain+key in one PEM. The same leaf per side for both
 * pairs, so the TLS work compared is the same: haproxy's pair makes a handshake per client
 * connection, so the leaf's key type moves its new-connection rate; the Isthmus pair's tunnels
 * share one session and do not feel it.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { testGatewayCertificate, testPki } from '../../src/identity/testing.js';

export interface SideCerts {
  certFile: string;
  keyFile: string;
  /** chain followed by the key, as haproxy's `crt` wants it. */
  pemFile: string;
}

export interface BenchCerts {
  caFile: string;
  east: SideCerts;
  west: SideCerts;
}

export async function writeBenchCerts(dir: string): Promise<BenchCerts> {
  const caFile = join(dir, 'ca.crt');
  await writeFile(caFile, testPki().anchor.certPem);
  const side = async (cluster: 'east' | 'west'): Promise<SideCerts> => {
    const cert = testGatewayCertificate(cluster);
    const files = {
      certFile: join(dir, `${cluster}.crt`),
      keyFile: join(dir, `${cluster}.key`),
      pemFile: join(dir, `${cluster}.pem`),
    };
    await writeFile(files.certFile, cert.chainPem);
    await writeFile(files.keyFile, cert.keyPem, { mode: 0o600 });
    await writeFile(files.pemFile, `${cert.chainPem.trimEnd()}\n${cert.keyPem}`, { mode: 0o600 });
    return files;
  };
  return { caFile, east: await side('east'), west: await side('west') };
}

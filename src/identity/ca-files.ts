/**
 * Every CA a certificates directory holds (the layout of files.ts), with the paths of its files:
 * the anchor and each cluster's issuer, the issuers they replaced (`retired/`), and, while the
 * anchor is rotated, the same under `previous/`. `certs revoke` picks the CA that signed what it
 * revokes from these, and builds crl.pem from them (crl-bundle.ts). Nothing is read but listings.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  ANCHOR_CERT_FILE,
  ANCHOR_CRL_FILE,
  ANCHOR_KEY_FILE,
  exists,
  ISSUER_CERT_FILE,
  ISSUER_CRL_FILE,
  ISSUER_KEY_FILE,
  PREVIOUS_DIR,
  RETIRED_DIR,
} from './files.js';

export interface CaFiles {
  cert: string;
  key: string;
  crl: string;
  /** The directory of the anchor it belongs to: <dir>, or <dir>/previous during a rotation. */
  root: string;
}

/** <dir>, then <dir>/previous while an anchor rotation is in progress. */
export async function anchorRoots(dir: string): Promise<string[]> {
  const previous = join(dir, PREVIOUS_DIR);
  return (await exists(previous)) ? [dir, previous] : [dir];
}

/** The anchors present: the current one first. */
export async function anchorFiles(dir: string): Promise<CaFiles[]> {
  const found: CaFiles[] = [];
  for (const root of await anchorRoots(dir)) {
    const files = { cert: ANCHOR_CERT_FILE, key: ANCHOR_KEY_FILE, crl: ANCHOR_CRL_FILE };
    if (await exists(join(root, files.cert))) found.push(at(root, root, files));
  }
  return found;
}

/**
 * The issuers present, of `cluster` or of every cluster: per anchor root and cluster (in name
 * order), the current issuer first, then the kept ones in serial order.
 */
export async function issuerFiles(dir: string, cluster?: string): Promise<CaFiles[]> {
  const files = { cert: ISSUER_CERT_FILE, key: ISSUER_KEY_FILE, crl: ISSUER_CRL_FILE };
  const found: CaFiles[] = [];
  for (const root of await anchorRoots(dir)) {
    for (const c of cluster === undefined ? await subdirectories(root) : [cluster]) {
      const clusterDir = join(root, c);
      const kept = join(clusterDir, RETIRED_DIR);
      for (const folder of [clusterDir, ...(await subdirectories(kept)).map((s) => join(kept, s))]) {
        if (await exists(join(folder, files.cert))) found.push(at(root, folder, files));
      }
    }
  }
  return found;
}

function at(root: string, folder: string, files: { cert: string; key: string; crl: string }): CaFiles {
  return {
    cert: join(folder, files.cert),
    key: join(folder, files.key),
    crl: join(folder, files.crl),
    root,
  };
}

async function subdirectories(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isDirectory() && e.name !== PREVIOUS_DIR)
    .map((e) => e.name)
    .sort();
}

/**
 * `isthmus certs revoke`: the CAs of the directory whose CRL gets the entry, read with their keys
 * (which ones: pickSigners in revoke-plan.ts).
 */
import type { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { IsthmusError } from '../errors.js';
import { anchorFiles, type CaFiles, issuerFiles } from './ca-files.js';
import type { Skipped } from './crl-bundle.js';
import { exists, ISSUER_CERT_FILE, loadAnchor, loadCertificates, RETIRED_DIR } from './files.js';
import {
  type CandidateCa,
  type CaStanding,
  candidateOf,
  pickSigners,
  type RevokeOptions,
} from './revoke-plan.js';
import { keyMismatch, signingKeyProblems } from './validate.js';

export interface SigningCa {
  certPem: string;
  keyPem: string;
  cert: X509Certificate;
  crlFile: string;
  /** The anchor directory it belongs to (<dir>, or <dir>/previous during a rotation). */
  root: string;
  standing: CaStanding;
}

/**
 * The CAs whose CRL gets the entry (pickSigners), and those whose CRL is not written, with the
 * reason. The current CA is validated first, so a wrong cluster name or a broken directory is
 * reported as such; any other unreadable certificate is only passed over (candidateOf).
 */
export async function signingCas(
  opts: RevokeOptions,
  at: Date,
  target?: X509Certificate,
): Promise<{ signers: SigningCa[]; unsigned: Skipped[] }> {
  const byIssuer = opts.cluster !== undefined;
  const [files, what] = byIssuer
    ? [
        await currentFirst(loadCertificates({ dir: opts.dir, clusters: [opts.cluster!], at }), () =>
          issuerFiles(opts.dir, opts.cluster),
        ),
        `the issuer of cluster ${opts.cluster} (${join(opts.dir, opts.cluster!, ISSUER_CERT_FILE)}) nor by one it replaced`,
      ]
    : [await currentFirst(loadAnchor(opts.dir, at, false), () => anchorFiles(opts.dir)), 'the trust anchor'];
  const read = await Promise.all(
    files.map(async (f) => candidateOf(f, await readFile(f.cert, 'utf8'), await exists(f.key))),
  );
  const candidates = read.filter((c): c is CandidateCa => 'cert' in c);
  const unreadable = read.filter((c): c is Skipped => !('cert' in c));
  const picked = pickSigners(candidates, target, at, opts.skipMissingKeys);
  if ('notIssued' in picked) {
    const unread = files.filter((_, i) => !('cert' in read[i]!)).map((f) => f.cert);
    const also =
      unread.length === 0 ? '' : ` (${unread.join(', ')} cannot be read: not known whether it did)`;
    throw new IsthmusError(
      'CERT_INVALID',
      `${opts.certFile ?? `serial ${opts.serial}`} was not issued by ${what}${also}: nothing to revoke there`,
      {
        terminal: true,
      },
    );
  }
  if (picked.missingKeys.length > 0) {
    const keys = picked.missingKeys.map((c) => c.files.key);
    const missing = `${keys.join(', ')} ${keys.length === 1 ? 'is' : 'are'} missing`;
    // Only a serial alone is revoked in several CRLs, and skipping helps only while one can be signed.
    const skip =
      target === undefined && !opts.skipMissingKeys && candidates.some((c) => c.hasKey)
        ? '; or give --skip-missing-keys to leave its CRL as it is: a certificate that CA signed then stays admitted'
        : '';
    throw new IsthmusError(
      'CERT_INVALID',
      byIssuer
        ? `revoking a certificate of this issuer needs its key: ${missing} (bring it back${skip})`
        : `revoking an issuer needs the trust anchor's key: ${missing} (bring it back from offline storage${skip})`,
      { terminal: true },
    );
  }
  // crl.ts signs with RSA and ECDSA (P-256/384/521) keys: any other (an Ed25519 anchor made by step
  // or openssl) is refused here, naming the file and what to do, before any CRL is touched.
  const role = byIssuer ? 'issuer' : 'trust anchor';
  for (const c of picked.signers) {
    const problem = signingKeyProblems(c.cert.toString(), role)[0];
    if (problem) throw new IsthmusError('CERT_INVALID', `${c.files.cert}: ${problem}`, { terminal: true });
  }
  const signers = await Promise.all(
    picked.signers.map(async (c) => ({
      certPem: c.cert.toString(),
      keyPem: await readFile(c.files.key, 'utf8'),
      cert: c.cert,
      crlFile: c.files.crl,
      root: c.files.root,
      standing: standingOf(opts.dir, c.files),
    })),
  );
  // Only the CA in force was checked with its key (loadCertificates); a kept one (retired/, a
  // previous anchor) whose key file is another key would sign a CRL nobody accepts (RFC 5280
  // §6.3.3 (g)) while this reported the serial revoked. Refused before any CRL is written, naming
  // the pair: skipping it would leave what that CA signed admitted, as a missing key would.
  for (const s of signers) {
    const mismatch = keyMismatch(s.cert, s.keyPem);
    if (mismatch === undefined) continue;
    const file = picked.signers.find((c) => c.cert === s.cert)!.files;
    throw new IsthmusError(
      'CERT_INVALID',
      `cannot sign the CRL of ${file.cert} (${STANDING_TEXT[s.standing]}): ${file.key}: ${mismatch}. Nothing was written: put that CA's own key back in ${file.key} and revoke again`,
      { terminal: true },
    );
  }
  // With the certificate at hand its signer is known, and an unreadable CA is not it.
  return { signers, unsigned: [...picked.unsigned, ...(target ? [] : unreadable)] };
}

const STANDING_TEXT: Record<CaStanding, string> = {
  'in force': 'the CA in force',
  replaced: 'a replaced CA, kept for the certificates it signed',
  'previous anchor': 'a CA under the previous anchor',
};

function standingOf(dir: string, files: CaFiles): CaStanding {
  if (files.root !== dir) return 'previous anchor';
  return relative(files.root, files.cert).split(sep).includes(RETIRED_DIR) ? 'replaced' : 'in force';
}

/** Waits for `validation` (it throws on a broken current CA), then lists the candidates. */
async function currentFirst(
  validation: Promise<unknown>,
  list: () => Promise<CaFiles[]>,
): Promise<CaFiles[]> {
  await validation;
  return list();
}

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { IsthmusError } from '../../errors.js';
import { REVOCATION_REASONS, type RevocationReason } from '../../identity/crl.js';
import { parseClusterList } from './sandbox.js';

export function registerCerts(program: Command): void {
  const certs = program
    .command('certs')
    // `certs revoke` has its own --out: the parent's options count only before the subcommand.
    .enablePositionalOptions()
    .description(
      'Create a trust anchor and one issuer per cluster (keys 0600; existing files are overwritten only with --force; --reuse-anchor adds or renews issuers under the existing anchor)',
    )
    // Required, but checked in the action: commander checks a parent's mandatory options before
    // running a subcommand, and `certs revoke` does not take these.
    .option('--out <dir>', 'directory to write ca.crt, ca.key and <cluster>/issuer.{crt,key} (required)')
    .option('--clusters <names>', 'comma-separated cluster names, e.g. east,west (required)')
    // No commander default: with --reuse-anchor, leaving it out means the existing anchor's.
    .option(
      '--trust-domain <domain>',
      "SPIFFE trust domain of the gateway identities (default: cluster.local; with --reuse-anchor, the existing anchor's, and no other)",
    )
    .option('--force', 'overwrite existing files', false)
    .option(
      '--reuse-anchor',
      'keep the existing ca.crt/ca.key and write only the issuers: a cluster joining, or with --force an issuer renewed (the old one is kept in <cluster>/retired/ for crl.pem)',
      false,
    )
    .action(
      async (opts: {
        out?: string;
        clusters?: string;
        trustDomain?: string;
        force: boolean;
        reuseAnchor: boolean;
      }) => {
        const missing = (['out', 'clusters'] as const).filter((k) => opts[k] === undefined);
        if (missing.length > 0) {
          throw new IsthmusError('USAGE', `certs: ${missing.map((k) => `--${k}`).join(' and ')} required`, {
            terminal: true,
          });
        }
        const { renewalSteps, runCertsCommand } = await import('../../identity/files.js');
        if (opts.reuseAnchor) await refuseUnsignableAnchor(opts.out!);
        const { written, renewed } = await runCertsCommand({
          outDir: opts.out!,
          clusters: parseClusterList(opts.clusters!),
          ...(opts.trustDomain === undefined ? {} : { trustDomain: opts.trustDomain }),
          force: opts.force,
          reuseAnchor: opts.reuseAnchor,
        });
        for (const f of written) process.stdout.write(`wrote ${f}\n`);
        process.stdout.write(await renewalSteps(opts.out!, renewed));
      },
    );

  certs
    .command('new-anchor')
    .description(
      'Rotate the trust anchor: a new anchor and new issuers, the old ones kept in <dir>/previous/ and trusted alongside through <dir>/ca-bundle.crt until --finish',
    )
    .requiredOption('--out <dir>', 'the directory `isthmus certs` wrote')
    .option(
      '--trust-domain <domain>',
      "SPIFFE trust domain of the gateway identities (default: the current anchor's; another is refused, as the installed clusters would refuse its issuers)",
    )
    .option('--finish', 'end the rotation: remove <dir>/previous/ and <dir>/ca-bundle.crt', false)
    .action(async (opts: { out: string; trustDomain?: string; finish: boolean }) => {
      const rotation = await import('../../identity/anchor-rotation.js');
      if (opts.finish) {
        const { clusters, removed, crlFile, skipped } = await rotation.finishAnchorRotation(opts.out);
        for (const f of removed) process.stdout.write(`removed ${f}\n`);
        if (crlFile) process.stdout.write(`wrote ${crlFile} without the old anchor's CAs\n`);
        printSkipped(skipped);
        process.stdout.write(rotation.finishSteps(opts.out, clusters, crlFile));
        return;
      }
      const r = await rotation.startAnchorRotation({
        dir: opts.out,
        ...(opts.trustDomain === undefined ? {} : { trustDomain: opts.trustDomain }),
      });
      for (const f of r.written) process.stdout.write(`wrote ${f}\n`);
      process.stdout.write(rotation.rotationSteps(opts.out, r.clusters, r.movedCrl));
    });

  certs
    .command('revoke')
    .description(
      "Revoke a gateway certificate (in its cluster issuer's CRL) or a cluster's issuer (in the trust anchor's CRL), and rebuild <dir>/crl.pem for the gateways' --crl-file",
    )
    .requiredOption('--out <dir>', 'the directory `isthmus certs` wrote')
    .option(
      '--cluster <name>',
      "revoke a gateway certificate of this cluster (signed by the cluster's issuer)",
    )
    .option('--issuer-of <name>', "revoke this cluster's issuer (signed by the trust anchor; needs ca.key)")
    .option('--cert <file>', 'the certificate to revoke')
    .option(
      '--serial <hex>',
      "or its serial number, as `openssl x509 -serial` and identity's log print it: listed in the CRL of every unexpired CA that may have signed it",
    )
    .option('--reason <reason>', `CRL reason: ${Object.keys(REVOCATION_REASONS).join(', ')}`)
    .option(
      '--skip-missing-keys',
      'with --serial, leave out the CRL of a CA whose key is missing (kept offline) instead of refusing; a certificate that CA signed stays admitted, and each CRL left out is named',
      false,
    )
    .action(
      async (opts: {
        out: string;
        cluster?: string;
        issuerOf?: string;
        cert?: string;
        serial?: string;
        reason?: string;
        skipMissingKeys: boolean;
      }) => {
        const { crlApplySteps, revokeCertificate, revokedLines, revokeNextSteps } = await import(
          '../../identity/revoke.js'
        );
        // Own keys only: `in` also admits what every object inherits (toString, constructor).
        if (opts.reason !== undefined && !Object.hasOwn(REVOCATION_REASONS, opts.reason)) {
          throw new IsthmusError(
            'USAGE',
            `--reason "${opts.reason}": expected one of ${Object.keys(REVOCATION_REASONS).join(', ')}`,
            {
              terminal: true,
            },
          );
        }
        const r = await revokeCertificate({
          dir: opts.out,
          ...(opts.cluster === undefined ? {} : { cluster: opts.cluster }),
          ...(opts.issuerOf === undefined ? {} : { issuerOf: opts.issuerOf }),
          ...(opts.cert === undefined ? {} : { certFile: opts.cert }),
          ...(opts.serial === undefined ? {} : { serial: opts.serial }),
          ...(opts.reason === undefined ? {} : { reason: opts.reason as RevocationReason }),
          skipMissingKeys: opts.skipMissingKeys,
        });
        printSkipped(r.skipped);
        for (const u of r.unsigned) process.stderr.write(`warning: did not write ${u.file}: ${u.reason}\n`);
        process.stdout.write(revokedLines(r) + crlApplySteps(r) + revokeNextSteps(opts.out, r));
      },
    );
}

/** What crl.pem leaves out, and why: gateways would refuse the whole bundle with it. */
function printSkipped(skipped: ReadonlyArray<{ file: string; reason: string }>): void {
  for (const s of skipped) process.stderr.write(`warning: left ${s.file} out of crl.pem: ${s.reason}\n`);
}

/**
 * `--reuse-anchor` signs issuers with ca.key, an RSA or ECDSA key (P-256, P-384, P-521; step's
 * default is P-256): another (Ed25519) is refused up front, saying what to do, not halfway through.
 * Only here: such an anchor is fine to trust, and `new-anchor` rotates away from it.
 */
async function refuseUnsignableAnchor(dir: string): Promise<void> {
  const { ANCHOR_CERT_FILE } = await import('../../identity/files.js');
  const { signingKeyProblems } = await import('../../identity/validate.js');
  const file = join(dir, ANCHOR_CERT_FILE);
  const pem = await readFile(file, 'utf8').catch(() => undefined);
  if (pem === undefined) return; // not there: writeCertificates says so
  const problems = signingKeyProblems(pem, 'trust anchor');
  if (problems.length > 0) {
    throw new IsthmusError('CERT_INVALID', problems.map((p) => `${file}: ${p}`).join('; '), {
      terminal: true,
    });
  }
}

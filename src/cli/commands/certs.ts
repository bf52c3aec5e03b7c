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
      'Create a trust anchor and one issuer per cluster (keys 0600; existing files are never overwritten)',
    )
    // Required, but checked in the action: commander checks a parent's mandatory options before
    // running a subcommand, and `certs revoke` does not take these.
    .option('--out <dir>', 'directory to write ca.crt, ca.key and <cluster>/issuer.{crt,key} (required)')
    .option('--clusters <names>', 'comma-separated cluster names, e.g. east,west (required)')
    .option('--trust-domain <domain>', 'SPIFFE trust domain of the gateway identities', 'cluster.local')
    .option('--force', 'overwrite existing files', false)
    .action(async (opts: { out?: string; clusters?: string; trustDomain: string; force: boolean }) => {
      const missing = (['out', 'clusters'] as const).filter((k) => opts[k] === undefined);
      if (missing.length > 0) {
        throw new IsthmusError('USAGE', `certs: ${missing.map((k) => `--${k}`).join(' and ')} required`, {
          terminal: true,
        });
      }
      const { runCertsCommand } = await import('../../identity/files.js');
      const { written } = await runCertsCommand({
        outDir: opts.out!,
        clusters: parseClusterList(opts.clusters!),
        trustDomain: opts.trustDomain,
        force: opts.force,
      });
      for (const f of written) process.stdout.write(`wrote ${f}\n`);
    });

  certs
    .command('new-anchor')
    .description(
      'Rotate the trust anchor: a new anchor and new issuers, the old ones kept in <dir>/previous/ and trusted alongside through <dir>/ca-bundle.crt until --finish',
    )
    .requiredOption('--out <dir>', 'the directory `isthmus certs` wrote')
    .option('--trust-domain <domain>', 'SPIFFE trust domain of the gateway identities', 'cluster.local')
    .option('--finish', 'end the rotation: remove <dir>/previous/ and <dir>/ca-bundle.crt', false)
    .action(async (opts: { out: string; trustDomain: string; finish: boolean }) => {
      const rotation = await import('../../identity/anchor-rotation.js');
      if (opts.finish) {
        const { removed, hadCrl } = await rotation.finishAnchorRotation(opts.out);
        for (const f of removed) process.stdout.write(`removed ${f}\n`);
        process.stdout.write(
          `${hadCrl ? 'Delete the isthmus-crl ConfigMap in every cluster first (it revokes under the old anchor). ' : ''}` +
            'Now install every cluster with --trust-anchor <dir>/ca.crt and restart its gateways.\n',
        );
        return;
      }
      const r = await rotation.startAnchorRotation({ dir: opts.out, trustDomain: opts.trustDomain });
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
    .option('--serial <hex>', 'or its serial number, as `openssl x509 -serial` prints it')
    .option('--reason <reason>', `CRL reason: ${Object.keys(REVOCATION_REASONS).join(', ')}`)
    .action(
      async (opts: {
        out: string;
        cluster?: string;
        issuerOf?: string;
        cert?: string;
        serial?: string;
        reason?: string;
      }) => {
        const { revokeCertificate } = await import('../../identity/revoke.js');
        if (opts.reason !== undefined && !(opts.reason in REVOCATION_REASONS)) {
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
        });
        process.stdout.write(
          `${r.added ? 'revoked' : 'already revoked'} serial ${r.serial}: ${r.crlFile} now lists ${r.revokedCount}\n` +
            `wrote ${r.bundleFile}; give it to every gateway (--crl-file; in a cluster: kubectl -n isthmus-system create configmap isthmus-crl --from-file=crl.pem=${r.bundleFile} --dry-run=client -o yaml | kubectl apply -f -)\n`,
        );
      },
    );
}

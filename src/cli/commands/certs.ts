import type { Command } from 'commander';
import { parseClusterList } from './sandbox.js';

export function registerCerts(program: Command): void {
  program
    .command('certs')
    .description(
      'Create a trust anchor and one issuer per cluster (keys 0600; existing files are never overwritten)',
    )
    .requiredOption('--out <dir>', 'directory to write ca.crt, ca.key and <cluster>/issuer.{crt,key}')
    .requiredOption('--clusters <names>', 'comma-separated cluster names, e.g. east,west')
    .option('--trust-domain <domain>', 'SPIFFE trust domain of the gateway identities', 'cluster.local')
    .option('--force', 'overwrite existing files', false)
    .action(async (opts: { out: string; clusters: string; trustDomain: string; force: boolean }) => {
      const { runCertsCommand } = await import('../../identity/files.js');
      const { written } = await runCertsCommand({
        outDir: opts.out,
        clusters: parseClusterList(opts.clusters),
        trustDomain: opts.trustDomain,
        force: opts.force,
      });
      for (const f of written) process.stdout.write(`wrote ${f}\n`);
    });
}

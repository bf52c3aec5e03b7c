import type { Command } from 'commander';
import { addKubeFlags, type KubeFlags, kubeClientFromFlags } from '../common-flags.js';
import { type OutputFormat, outputOption, renderOutput } from '../output.js';

interface FederatedFlags extends KubeFlags {
  namespace?: string;
  output: OutputFormat;
}

export function registerFederated(program: Command): void {
  addKubeFlags(
    program
      .command('federated')
      .description(
        'Federated services (<name>-federated): their member clusters, and how many ready endpoints each member contributes now (or standby, no matching port, or no ready endpoint); a federation whose federated Service cannot be created says why (NameTooLong, NotOwned)',
      )
      .option('-n, --namespace <ns>', 'only this namespace (default: all namespaces)')
      .addOption(outputOption()),
  ).action(async (flags: FederatedFlags) => {
    const { readFederatedRows, renderFederatedTable } = await import('../check/federated-view.js');
    const client = await kubeClientFromFlags(flags);
    try {
      const rows = await readFederatedRows(client, flags.namespace);
      const scope = flags.namespace ? { namespace: flags.namespace } : {};
      process.stdout.write(await renderOutput(flags.output, rows, () => renderFederatedTable(rows, scope)));
    } finally {
      client.close();
    }
  });
}

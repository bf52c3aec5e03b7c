import type { Command } from 'commander';
import { addKubeFlags, type KubeFlags, kubeClientFromFlags } from '../common-flags.js';
import { type OutputFormat, outputOption, renderOutput } from '../output.js';

interface StatusFlags extends KubeFlags {
  namespace?: string;
  output: OutputFormat;
  controlledBy?: string;
}

export function registerStatus(program: Command): void {
  addKubeFlags(
    program
      .command('status')
      .description(
        'Failover view: for each TrafficSplit the failover controller handles, whether it serves from its primary or a fallback, and the backends taking traffic',
      )
      .option('-n, --namespace <ns>', 'only TrafficSplits of this namespace (default: all namespaces)')
      .option(
        '--controlled-by <value>',
        "failover.linkerd.io/controlled-by value of the splits to show (default: the install's --failover-controlled-by, as recorded)",
      )
      .addOption(outputOption()),
  ).action(async (flags: StatusFlags) => {
    const { failoverStatusRows, renderStatusTable } = await import('../../failover/index.js');
    const { installedControlledBy } = await import('../check/gather.js');
    const client = await kubeClientFromFlags(flags);
    try {
      const controlledBy = flags.controlledBy ?? (await installedControlledBy(client));
      const rows = await failoverStatusRows(client, {
        ...(flags.namespace ? { namespace: flags.namespace } : {}),
        controlledBy,
      });
      process.stdout.write(
        await renderOutput(flags.output, rows, () => renderStatusTable(rows, controlledBy)),
      );
    } finally {
      client.close();
    }
  });
}

import type { Command } from 'commander';
import { addKubeFlags, type KubeFlags, kubeClientFromFlags } from '../common-flags.js';
import { type OutputFormat, outputOption, renderOutput } from '../output.js';

interface RoutesFlags extends KubeFlags {
  output: OutputFormat;
}

export function registerRoutes(program: Command): void {
  addKubeFlags(
    program
      .command('routes')
      .description(
        "Each gateway pod's egress listeners: which port leads, through which remote gateway, to which remote Service (read through the API server's pod proxy)",
      )
      .addOption(outputOption()),
  ).action(async (flags: RoutesFlags) => {
    const { readRoutesFacts } = await import('../check/routes-facts.js');
    const { routeRows, renderRoutesTable } = await import('../check/routes-view.js');
    const client = await kubeClientFromFlags(flags);
    try {
      const facts = await readRoutesFacts(client);
      for (const p of facts.pods) {
        if (p.error !== undefined) process.stderr.write(`note: ${p.pod}: cannot read /routes: ${p.error}\n`);
      }
      const rows = routeRows(facts.pods);
      process.stdout.write(await renderOutput(flags.output, rows, () => renderRoutesTable(rows, facts)));
    } finally {
      client.close();
    }
  });
}

import type { Command } from 'commander';
import { IsthmusError } from '../../errors.js';
import { addKubeFlags, type KubeFlags, kubeClientFromFlags } from '../common-flags.js';

interface UninstallFlags extends KubeFlags {
  keepTrafficSplitCrd?: boolean;
}

export function registerUninstall(program: Command): void {
  addKubeFlags(
    program
      .command('uninstall')
      .description(
        'Print everything Isthmus put in this cluster, for `kubectl delete -f -`; refuses while Links remain (unlink first)',
      )
      .option(
        '--keep-traffic-split-crd',
        'keep the TrafficSplit CRD (and the TrafficSplits under it), e.g. when another tool uses them',
      ),
  ).action(async (flags: UninstallFlags) => {
    const { gatherUninstallFacts } = await import('../uninstall/gather-uninstall.js');
    const { planUninstall } = await import('../uninstall/plan-uninstall.js');
    const { stringify } = await import('yaml');
    const client = await kubeClientFromFlags(flags);
    try {
      const plan = planUninstall(await gatherUninstallFacts(client), {
        keepTrafficSplitCrd: flags.keepTrafficSplitCrd === true,
      });
      if (!plan.ok) {
        throw new IsthmusError('USAGE', `nothing printed:\n  ${plan.problems.join('\n  ')}`, {
          terminal: true,
        });
      }
      for (const note of plan.notes) process.stderr.write(`${note}\n`);
      process.stdout.write(plan.objects.map((o) => `---\n${stringify(o)}`).join(''));
    } finally {
      client.close();
    }
  });
}

import type { Command } from 'commander';
import { IsthmusError } from '../../errors.js';
import { addKubeFlags, type KubeFlags, kubeClientFromFlags } from '../common-flags.js';

interface UninstallFlags extends KubeFlags {
  keepTrafficSplitCrd?: boolean;
  gateway?: boolean;
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
      )
      .option(
        '--gateway',
        'only the gateway and the identity service, once the install is `isthmus install --no-gateway` (kubectl apply prunes nothing)',
      ),
  ).action(async (flags: UninstallFlags) => {
    const { gatherUninstallFacts } = await import('../uninstall/gather-uninstall.js');
    const { planUninstall } = await import('../uninstall/plan-uninstall.js');
    const { planGatewayRemoval } = await import('../uninstall/plan-gateway-removal.js');
    const { kubeYaml } = await import('../kube-yaml.js');
    const client = await kubeClientFromFlags(flags);
    try {
      const facts = await gatherUninstallFacts(client);
      const plan = flags.gateway
        ? planGatewayRemoval(facts)
        : planUninstall(facts, { keepTrafficSplitCrd: flags.keepTrafficSplitCrd === true });
      if (!plan.ok) {
        throw new IsthmusError('USAGE', `nothing printed:\n  ${plan.problems.join('\n  ')}`, {
          terminal: true,
        });
      }
      for (const note of plan.notes) process.stderr.write(`${note}\n`);
      process.stdout.write(plan.objects.map((o) => `---\n${kubeYaml(o)}`).join(''));
    } finally {
      client.close();
    }
  });
}

import type { Command } from 'commander';
import {
  addKubeFlags,
  type KubeFlags,
  kubeClientFromFlags,
  kubeTargetArgs,
  parseDurationFlag,
} from '../common-flags.js';

interface UnlinkFlags extends KubeFlags {
  clusterName: string;
  wait: boolean;
  timeout: string;
}

export function registerUnlink(program: Command): void {
  addKubeFlags(
    program
      .command('unlink')
      .description(
        "Remove the link to a cluster: deletes its Link (the controller's finalizer then deletes the mirrors), its credentials Secret and the Role and RoleBinding isthmus-controller-credentials-<cluster>; with no Link left (kubectl delete link), still deletes what isthmus link made for the cluster (labelled isthmus.dev/link=<cluster>)",
      )
      .requiredOption('--cluster-name <name>', 'the linked cluster to remove')
      .option('--wait', 'wait until the Link is gone and report the mirrors removed', false)
      .option('--timeout <duration>', 'how long --wait waits', '60s'),
  ).action(async (flags: UnlinkFlags) => {
    const timeoutMs = parseDurationFlag(flags.timeout, '--timeout');
    const { unlinkCluster } = await import('../check/unlink-cluster.js');
    const client = await kubeClientFromFlags(flags);
    try {
      const outcome = await unlinkCluster(client, flags.clusterName, {
        wait: flags.wait,
        timeoutMs,
        progress: (line) => process.stdout.write(`${line}\n`),
        note: (line) => process.stderr.write(`${line}\n`),
        kubeFlags: kubeTargetArgs(flags),
      });
      const { linkName, mirrorsRemoved: n } = outcome;
      if (linkName !== undefined && n !== undefined) {
        process.stdout.write(
          `${linkName.includes(',') ? `Links ${linkName} are` : `Link ${linkName} is`} gone; ${n} mirror service${n === 1 ? '' : 's'} removed\n`,
        );
      }
    } finally {
      client.close();
    }
  });
}

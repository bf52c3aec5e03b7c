import type { Command } from 'commander';
import { addKubeFlags, type KubeFlags, kubeClientFromFlags } from '../common-flags.js';

interface AllowFlags extends KubeFlags {
  serviceAccountName: string;
}

export function registerAllow(program: Command): void {
  addKubeFlags(
    program
      .command('allow')
      .description(
        "Print a read-only account of its own for one linking cluster (Linkerd's multicluster allow): isthmus allow ... | kubectl apply -f -, then isthmus link --service-account-name",
      )
      .requiredOption(
        '--service-account-name <name>',
        'the account, one per linking cluster (e.g. east-reader); deleting it revokes that cluster alone',
      ),
  ).action(async (flags: AllowFlags) => {
    const { allowManifests, refuseForeignAccount } = await import('../link/allow.js');
    // The name first: a typo is reported before the cluster is read.
    const manifests = allowManifests(flags.serviceAccountName);
    const { R, REMOTE_ACCESS_SERVICE_ACCOUNT, SYSTEM_NAMESPACE } = await import('../../kube/index.js');
    const { IsthmusError } = await import('../../errors.js');
    const { toYamlStream } = await import('../kube-yaml.js');
    const client = await kubeClientFromFlags(flags);
    try {
      const [shared, existing] = await Promise.all([
        client.get(R.serviceAccounts, SYSTEM_NAMESPACE, REMOTE_ACCESS_SERVICE_ACCOUNT),
        client.get(R.serviceAccounts, SYSTEM_NAMESPACE, flags.serviceAccountName),
      ]);
      // The binding names the install's ClusterRole of the same name: Isthmus must be installed.
      if (!shared) {
        throw new IsthmusError(
          'USAGE',
          `this cluster has no ${SYSTEM_NAMESPACE}/${REMOTE_ACCESS_SERVICE_ACCOUNT}: run "isthmus install" here first`,
          { terminal: true },
        );
      }
      refuseForeignAccount(existing, flags.serviceAccountName);
      process.stdout.write(
        `# Read-only access for one linking cluster: isthmus allow ... | kubectl apply -f -\n${toYamlStream(manifests)}`,
      );
    } finally {
      client.close();
    }
  });
}

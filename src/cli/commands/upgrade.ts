import type { Command } from 'commander';
import { addKubeFlags, type KubeFlags, kubeClientFromFlags } from '../common-flags.js';
import { addInstallFlags, repeatable } from '../install/install-flags.js';

interface UpgradeFlags extends KubeFlags {
  unset?: string[];
}

export function registerUpgrade(program: Command): void {
  addKubeFlags(
    addInstallFlags(
      program
        .command('upgrade')
        .description(
          'Print the install again, as isthmus install with the flags it was installed with (read from the cluster), each flag given here replacing its recorded value: isthmus upgrade ... | kubectl apply -f -',
        )
        .option(
          '--unset <flag>',
          'drop a recorded flag, so its default applies again (e.g. --unset ha), repeatable',
          repeatable,
        ),
      { clusterNameRequired: false },
    ),
  ).action(async (flags: UpgradeFlags, cmd: Command) => {
    const { runUpgrade } = await import('../upgrade/run-upgrade.js');
    const { printInstall } = await import('../install/print-install.js');
    const client = await kubeClientFromFlags(flags);
    try {
      const { options, notes } = await runUpgrade(client, cmd, flags.unset ?? []);
      for (const note of notes) process.stderr.write(`note: ${note}\n`);
      printInstall(options);
    } finally {
      client.close();
    }
  });
}

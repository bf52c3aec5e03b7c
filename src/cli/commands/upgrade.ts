import type { Command } from 'commander';
import { addKubeFlags, type KubeFlags, kubeClientFromFlags } from '../common-flags.js';
import { addInstallFlags, repeatable } from '../install/install-flags.js';

interface UpgradeFlags extends KubeFlags {
  unset?: string[];
  replaceTrustAnchor?: boolean;
}

export function registerUpgrade(program: Command): void {
  addKubeFlags(
    upgradeHelp(
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
          )
          .option(
            '--replace-trust-anchor',
            'let --trust-anchor replace the installed anchor outright, keeping none of its anchors (a single cluster, or every cluster at once); without it that is refused, since every cluster still on the old anchor would refuse this one: rotate in steps instead, with a bundle of both anchors first (README, "Rotating the trust anchor")',
          ),
        { clusterNameRequired: false },
      ),
    ),
  ).action(async (flags: UpgradeFlags, cmd: Command) => {
    const { runUpgrade } = await import('../upgrade/run-upgrade.js');
    const { printInstall } = await import('../install/print-install.js');
    const client = await kubeClientFromFlags(flags);
    try {
      const { options, notes, warnings } = await runUpgrade(client, cmd, flags.unset ?? [], {
        replaceTrustAnchor: flags.replaceTrustAnchor === true,
      });
      for (const warning of warnings) process.stderr.write(`warning: ${warning}\n`);
      for (const note of notes) process.stderr.write(`note: ${note}\n`);
      printInstall(options);
    } finally {
      client.close();
    }
  });
}

/** Install's flags, as upgrade reads them: each defaults to its recorded value; the certificates to the cluster's. */
function upgradeHelp(cmd: Command): Command {
  const fromCluster: Record<string, string> = {
    '--trust-anchor':
      'the shared trust anchor (bundle) to install (default: the one in isthmus-trust-anchor)',
    '--issuer-cert': "this cluster's issuer certificate (default: the one in the isthmus-issuer Secret)",
    '--issuer-key': "this cluster's issuer key (default: the one in the isthmus-issuer Secret)",
  };
  for (const option of cmd.options) {
    const text = option.long ? fromCluster[option.long] : undefined;
    if (text) option.description = text;
    else if (option.defaultValue !== undefined && !option.negate && option.long !== '--unset')
      option.defaultValueDescription = `the recorded value, else ${JSON.stringify(option.defaultValue)}`;
    // Flags without a commander default (so that "not given" can be told from the default) say
    // theirs in the description.
    else
      option.description = option.description.replace(
        /\(default: (.+)\)$/,
        '(default: the recorded value, else $1)',
      );
  }
  return cmd;
}

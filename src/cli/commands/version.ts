import type { Command } from 'commander';
import { describeError } from '../../errors.js';
import { VERSION } from '../../version.js';
import { addKubeFlags, type KubeFlags, kubeClientFromFlags } from '../common-flags.js';
import { type OutputFormat, outputOption, renderOutput } from '../output.js';

interface VersionFlags extends KubeFlags {
  client?: boolean;
  output: OutputFormat;
}

export function registerVersion(program: Command): void {
  addKubeFlags(
    program
      .command('version')
      .description(
        "The CLI's version, and the versions the installed pods run (per component when they differ, as mid-upgrade)",
      )
      .option('--client', 'print the CLI version only; read no cluster')
      .addOption(outputOption()),
  ).action(async (flags: VersionFlags) => {
    const { readComponentVersions, renderVersion, versionReport } = await import('../check/versions-view.js');
    if (flags.client) {
      const report = { clientVersion: VERSION };
      process.stdout.write(await renderOutput(flags.output, report, () => `Client version: ${VERSION}\n`));
      return;
    }
    let report: ReturnType<typeof versionReport>;
    try {
      const client = await kubeClientFromFlags(flags);
      try {
        report = versionReport(VERSION, await readComponentVersions(client));
      } finally {
        client.close();
      }
    } catch (err) {
      // As `linkerd version`: an unreachable cluster is a line of the answer, not a failure.
      report = versionReport(VERSION, [], describeError(err));
    }
    process.stdout.write(await renderOutput(flags.output, report, () => renderVersion(report)));
  });
}

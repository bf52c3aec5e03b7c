import { spawnSync } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { IsthmusError } from '../../errors.js';
import { onClosedStdout } from '../closed-stdout.js';
import { LOCAL_LAB_DIR } from '../lab/lab-state.js';
import { LAB_CLUSTERS, labTopology, MAX_LAB_CLUSTERS, parseLabClusters } from '../lab/topology.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

interface LabFlags {
  dir: string;
  base: string;
  clusters: string;
  trustDomain: string;
  kind?: boolean;
  local?: boolean;
  dryRun?: boolean;
  gatewayDialPodIpsOnly?: boolean;
}

/** kind needs a working Docker engine, not just the docker client. */
export function dockerAndKindWork(): boolean {
  const ok = (cmd: string, args: string[]) =>
    spawnSync(cmd, args, { stdio: 'ignore', timeout: 10_000 }).status === 0;
  return ok('kind', ['version']) && ok('docker', ['info']);
}

function useKind(flags: LabFlags): boolean {
  if (flags.local) return false;
  return flags.kind === true || dockerAndKindWork();
}

/**
 * `lab down` and `lab status`: the lab that runs. A local lab running from --dir is the one meant
 * even where Docker and kind work (it was started with --local): otherwise `lab down` would delete
 * the kind clusters and leave it running, and `lab status` would run the kind lab's checks.
 */
async function runningLabIsKind(flags: LabFlags): Promise<boolean> {
  if (flags.local) return false;
  if (flags.kind) return true;
  const { runningLab } = await import('../lab/lab-state.js');
  if (await runningLab(flags.dir)) return false;
  return dockerAndKindWork();
}

/**
 * Runs one of scripts/kind. `env` is added to this process's environment: `lab up --trust-domain`
 * reaches up.sh as TRUST_DOMAIN (the script reads no flags but --dry-run).
 */
function runKindScript(
  script: 'up.sh' | 'down.sh' | 'verify.sh',
  dryRun: boolean,
  env: Record<string, string> = {},
): void {
  const result = spawnSync(
    'bash',
    [join(ROOT, 'scripts', 'kind', script), ...(dryRun ? ['--dry-run'] : [])],
    {
      stdio: 'inherit',
      env: { ...process.env, ...env },
    },
  );
  if (result.error)
    throw new IsthmusError('USAGE', `cannot run scripts/kind/${script}: ${result.error.message}`);
  if (result.status !== 0)
    throw new IsthmusError(
      'USAGE',
      `scripts/kind/${script} failed (${result.signal ? `signal ${result.signal}` : `exit ${result.status}`})`,
    );
}

/**
 * What every kind script gets of `--dir`: LAB_DIR (scripts/kind/lib.sh), where up.sh keeps the
 * certificates and down.sh deletes, so `lab down --kind --dir X` removes X and nothing else. Only
 * when --dir is given: its default is the local lab's directory, and the kind lab's own default
 * (`<repo>/.lab/kind`, or LAB_DIR from the environment) must not become that.
 */
function kindDirEnv(flags: LabFlags, cmd: Command): Record<string, string> {
  return cmd.getOptionValueSource('dir') === 'cli' ? { LAB_DIR: resolve(flags.dir) } : {};
}

/**
 * Resolves with the first SIGINT, SIGTERM or SIGHUP, after calling `onSignal`. SIGHUP too: closing
 * the terminal would otherwise end the lab process at once and leave its children running (the
 * gateways take SIGHUP as "re-read the certificate"). A closed stdout (`lab up | head`,
 * closed-stdout.ts) counts as SIGPIPE, for the same reason.
 */
function labStopSignal(onSignal: () => void): { received: Promise<NodeJS.Signals>; dispose(): void } {
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  let handler: (signal: NodeJS.Signals) => void = () => undefined;
  let offClosedStdout = () => {};
  const dispose = () => {
    for (const s of signals) process.off(s, handler);
    offClosedStdout();
  };
  const received = new Promise<NodeJS.Signals>((resolve) => {
    handler = (signal) => {
      dispose();
      onSignal();
      resolve(signal);
    };
    for (const s of signals) process.on(s, handler);
    offClosedStdout = onClosedStdout(() => handler('SIGPIPE'));
  });
  return { received, dispose };
}

export function registerLab(program: Command): void {
  const lab = program
    .command('lab')
    .description(
      `A multicluster lab (east, west; the local lab takes up to ${MAX_LAB_CLUSTERS} with --clusters): local sandboxes and real processes, or kind (east, west) when Docker works`,
    );
  const common = (cmd: Command) =>
    cmd
      .option(
        '--dir <path>',
        'state directory (certificates, kubeconfig, logs); the kind lab uses .lab/kind unless given',
        LOCAL_LAB_DIR,
      )
      .option('--kind', 'use the kind lab (scripts/kind) even if Docker was not detected')
      .option('--local', 'use the local sandbox lab even if Docker and kind work')
      .option('--dry-run', 'with kind: print the commands instead of running them');

  common(lab.command('up').description('Start the lab in the foreground; Ctrl-C stops everything'))
    .option(
      '--base <octet>',
      "third octet of the first cluster's loopback /24 (east's; each next cluster uses the next /24)",
      '1',
    )
    .option(
      '--clusters <names>',
      `local lab: 2-${MAX_LAB_CLUSTERS} comma-separated cluster names, each linked to every other; the first plays east's part (frontend, TrafficSplit), the second west's (exports podinfo, podinfo-direct), every further one exports its podinfo (the kind lab runs east,west only)`,
      LAB_CLUSTERS.join(','),
    )
    .option('--trust-domain <domain>', 'SPIFFE trust domain', 'cluster.local')
    .option(
      '--gateway-dial-pod-ips-only',
      "local lab: install with isthmus install's --gateway-dial-pod-ips-only (the gateways dial only Pod IPs)",
    )
    .action(async (flags: LabFlags, cmd: Command) => {
      const clusters = parseLabClusters(flags.clusters);
      const otherClusters = clusters.join(',') !== LAB_CLUSTERS.join(',');
      // Only the local lab takes other clusters: asking for them picks it where Docker would pick kind.
      const kind = otherClusters && !flags.kind ? false : useKind(flags);
      if (kind && flags.gatewayDialPodIpsOnly)
        throw new IsthmusError(
          'USAGE',
          '--gateway-dial-pod-ips-only is a local lab flag: scripts/kind installs with its own flags (add --local)',
        );
      // scripts/kind makes east and west, and its overlays give each its part: any other list would be
      // silently dropped.
      if (kind && otherClusters)
        throw new IsthmusError(
          'USAGE',
          `--clusters ${flags.clusters} is a local lab flag: the kind lab (scripts/kind) runs east and west only (add --local)`,
        );
      if (kind)
        return runKindScript('up.sh', flags.dryRun === true, {
          TRUST_DOMAIN: flags.trustDomain,
          ...kindDirEnv(flags, cmd),
        });
      const base = Number(flags.base);
      // Refused here, before anything starts.
      labTopology(base, clusters);
      const { startLocalLab } = await import('../lab/local-lab.js');
      const { printLabReady } = await import('../lab/lab-report.js');
      const progress = (line: string) => process.stdout.write(`✓ ${line}\n`);
      // A process that dies is restarted, as a kubelet would: the lab runs until Ctrl-C.
      const notice = (line: string) => process.stderr.write(`lab: ${line}\n`);
      // Listening from the start: a signal while the lab starts stops what it started so far.
      const shutdown = new AbortController();
      const stopSignal = labStopSignal(() => shutdown.abort());
      let lab: Awaited<ReturnType<typeof startLocalLab>>;
      try {
        lab = await startLocalLab({
          dir: flags.dir,
          base,
          clusters,
          trustDomain: flags.trustDomain,
          gatewayDialPodIPsOnly: flags.gatewayDialPodIpsOnly === true,
          progress,
          notice,
          signal: shutdown.signal,
        });
      } catch (err) {
        if (!shutdown.signal.aborted) {
          stopSignal.dispose();
          throw err;
        }
        process.stdout.write('lab start interrupted; everything it started is stopped\n');
        process.exitCode = 128 + (osConstants.signals[await stopSignal.received] ?? 0);
        return;
      }
      printLabReady(lab.state, (line) => process.stdout.write(`${line}\n`), flags.dir);
      await stopSignal.received;
      process.stdout.write('stopping the lab…\n');
      await lab.stop();
      process.stdout.write('lab stopped\n');
    });

  common(lab.command('down').description('Stop a running lab (or delete the kind clusters)')).action(
    async (flags: LabFlags, cmd: Command) => {
      if (await runningLabIsKind(flags))
        return runKindScript('down.sh', flags.dryRun === true, kindDirEnv(flags, cmd));
      const { stopLocalLab } = await import('../lab/lab-report.js');
      process.stdout.write(`${await stopLocalLab(flags.dir)}\n`);
    },
  );

  common(
    lab
      .command('status')
      .description('Show what the lab is running, and where to scrape and probe each process (admin ports)'),
  ).action(async (flags: LabFlags, cmd: Command) => {
    // Read-only: verify.sh's failover steps scale podinfo, which a status must not do.
    if (await runningLabIsKind(flags))
      return runKindScript('verify.sh', flags.dryRun === true, {
        VERIFY_READ_ONLY: '1',
        ...kindDirEnv(flags, cmd),
      });
    const { labStatusLines } = await import('../lab/lab-report.js');
    const { lines, healthy } = await labStatusLines(flags.dir);
    for (const l of lines) process.stdout.write(`${l}\n`);
    if (!healthy) process.exitCode = 1;
  });
}

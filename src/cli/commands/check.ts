import type { Command } from 'commander';
import { IsthmusError } from '../../errors.js';
import type { KubeClient } from '../../kube/client.js';
import { addKubeFlags, type KubeFlags, kubeClientFromFlags, parseDurationFlag } from '../common-flags.js';
import { type OutputFormat, outputOption, renderOutput } from '../output.js';

interface CheckFlags extends KubeFlags {
  output: OutputFormat;
  remoteTimeout: string;
  pre?: boolean;
  networkPolicy?: boolean;
  admissionPolicy?: boolean;
  /** `--no-gateway` makes it false; commander defaults it to true. */
  gateway: boolean;
  enableNamespaceCreation?: boolean;
  gatewayDialPodIpsOnly?: boolean;
}

async function preInstallResults(client: KubeClient, flags: CheckFlags) {
  const { gatherPreFacts, runPreChecks } = await import('../check/pre-install.js');
  const optIn = {
    networkPolicy: flags.networkPolicy === true,
    admissionPolicy: flags.admissionPolicy === true,
    gateway: flags.gateway,
    enableNamespaceCreation: flags.enableNamespaceCreation === true,
    gatewayDialPodIPsOnly: flags.gatewayDialPodIpsOnly === true,
  };
  return runPreChecks(await gatherPreFacts(client, optIn));
}

export function registerCheck(program: Command): void {
  addKubeFlags(
    program
      .command('check')
      .description(
        'Check the multicluster setup of this cluster: CRDs, Links, remote credentials, shared trust anchor, controller, gateways, mirrors, certificate expiry (exit status 1 on any failure)',
      )
      .addOption(outputOption())
      .option('--remote-timeout <duration>', 'deadline of each call to a remote API server or gateway', '5s')
      .option(
        '--pre',
        'before installing: API version, your permission to create what install applies and to grant what its roles grant (RBAC escalation), CRDs or namespace already there',
      )
      .option('--network-policy', 'with --pre: for an install with --network-policy (NetworkPolicies too)')
      .option(
        '--admission-policy',
        'with --pre: for an install with --admission-policy (a ValidatingAdmissionPolicy and its binding too)',
      )
      .option('--no-gateway', 'with --pre: for an install with --no-gateway (no identity or gateway roles)')
      .option(
        '--enable-namespace-creation',
        'with --pre: for an install with --enable-namespace-creation (the controller may create namespaces)',
      )
      .option(
        '--gateway-dial-pod-ips-only',
        'with --pre: for an install with --gateway-dial-pod-ips-only (the gateway reads pods)',
      ),
  ).action(async (flags: CheckFlags) => {
    const remoteTimeoutMs = parseDurationFlag(flags.remoteTimeout, '--remote-timeout');
    for (const [given, flag] of [
      [flags.networkPolicy, '--network-policy'],
      [flags.admissionPolicy, '--admission-policy'],
      [!flags.gateway, '--no-gateway'],
      [flags.enableNamespaceCreation, '--enable-namespace-creation'],
      [flags.gatewayDialPodIpsOnly, '--gateway-dial-pod-ips-only'],
    ] as const)
      if (given && !flags.pre) throw new IsthmusError('USAGE', `${flag} goes with --pre`, { terminal: true });
    const { gatherFacts } = await import('../check/gather.js');
    const { runChecks } = await import('../check/checks/index.js');
    const { checkReport, checksPassed, renderCheckText } = await import('../check/render.js');
    const client = await kubeClientFromFlags(flags);
    try {
      const { apiUnreachable } = await import('../check/api-reachable.js');
      const unreachable = await apiUnreachable(client);
      const results = unreachable
        ? [unreachable]
        : flags.pre
          ? await preInstallResults(client, flags)
          : runChecks(await gatherFacts(client, { remoteTimeoutMs }));
      process.stdout.write(
        await renderOutput(flags.output, checkReport(results), () => renderCheckText(results)),
      );
      if (!checksPassed(results)) process.exitCode = 1;
    } finally {
      client.close();
    }
  });
}

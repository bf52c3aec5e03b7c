/**
 * The mirror controller as a process:
 *   node --import tsx src/mirror/main.ts --cluster east --kubeconfig east.yaml \
 *     --gateway-admin http://127.0.1.1:4191 --gateway-endpoints 127.0.1.1
 * Stops cleanly on SIGTERM/SIGINT (informers, probes and the Lease are released). The CLI wraps the
 * same options as `isthmus controller`; `buildCommand` is exported for that.
 */
import { pathToFileURL } from 'node:url';
import { Command, InvalidArgumentError, Option } from 'commander';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { describeError } from '../errors.js';
import { KubeClient } from '../kube/client.js';
import { runController } from './controller.js';
import { electLeader } from './leadership.js';
import { splitAddresses } from './link-config.js';
import { DEFAULT_EGRESS_RANGE, type PortRange } from './port-allocator.js';
import { Leadership } from './shared.js';

export function parsePortRange(text: string): PortRange {
  const m = /^(\d{1,5})-(\d{1,5})$/.exec(text.trim());
  const first = Number(m?.[1]);
  const last = Number(m?.[2]);
  if (!m || first < 1 || last > 65535 || first > last)
    throw new InvalidArgumentError('expected <first>-<last>');
  return { first, last };
}

export interface MirrorOptions {
  cluster: string;
  kubeconfig?: string;
  context?: string;
  gatewayAdmin: string;
  gatewayEndpoints?: string;
  egressPorts: PortRange;
  leaderElect: boolean;
  logLevel: string;
}

export function buildCommand(): Command {
  return new Command('controller')
    .description('run the service mirror controller of one cluster')
    .requiredOption(
      '--cluster <name>',
      'name of this (local) cluster, for logs and the leader Lease identity',
    )
    .option(
      '--kubeconfig <file>',
      'kubeconfig of the local cluster (default: in-cluster, then ~/.kube/config)',
    )
    .option('--context <name>', 'kubeconfig context')
    .option('--gateway-admin <url>', 'local gateway admin base URL (serves /probe)', 'http://127.0.0.1:4191')
    .option('--gateway-endpoints <addresses>', 'static local gateway addresses, comma separated (labs)')
    .addOption(
      new Option('--egress-ports <range>', 'egress port range, <first>-<last>')
        .argParser(parsePortRange)
        .default(DEFAULT_EGRESS_RANGE, `${DEFAULT_EGRESS_RANGE.first}-${DEFAULT_EGRESS_RANGE.last}`),
    )
    .option('--no-leader-elect', 'write without holding the Lease (single replica only)')
    .option('--log-level <level>', 'pino log level', 'info');
}

export async function runMirrorProcess(opts: MirrorOptions): Promise<() => Promise<void>> {
  const log = pino(
    { level: opts.logLevel, base: { component: 'mirror', cluster: opts.cluster } },
    pino.destination(2),
  );
  const client = opts.kubeconfig
    ? KubeClient.fromKubeconfigFile(opts.kubeconfig, opts.context)
    : KubeClient.fromDefault(opts.context);
  const election = opts.leaderElect ? electLeader(client) : undefined;
  const endpoints = splitAddresses(opts.gatewayEndpoints);
  const ctl = runController({
    client,
    gatewayAdminUrl: opts.gatewayAdmin,
    ...(endpoints.length > 0 ? { gatewayEndpoints: endpoints } : {}),
    egressPortRange: opts.egressPorts,
    registry: new Registry(),
    leadership: election?.leadership ?? new Leadership(true),
    log,
  });
  election?.leadership.subscribe((leading) => log.info({ leading }, 'leadership changed'));
  await ctl.ready;
  log.info({ gatewayAdmin: opts.gatewayAdmin }, 'mirror controller started');
  return async () => {
    await ctl.stop();
    await election?.elector.stop();
    client.close();
    log.info({}, 'mirror controller stopped');
    log.flush();
  };
}

async function main(): Promise<void> {
  const command = buildCommand();
  command.parse(process.argv);
  const stop = await runMirrorProcess(command.opts<MirrorOptions>());
  let stopping = false;
  const shutdown = () => {
    if (stopping) return;
    stopping = true;
    stop().then(
      () => process.exit(0),
      (err) => {
        console.error(describeError(err));
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    console.error(describeError(err));
    process.exit(1);
  });
}

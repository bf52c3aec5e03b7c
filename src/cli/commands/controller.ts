import type { Command } from 'commander';
import { FAILOVER_CONTROLLED_BY_DEFAULT, PORTS } from '../../kube/keys.js';
import { DEFAULT_DELETION_GRACE_MS } from '../../mirror/deletion-hold.js';
import { DEFAULT_MIRROR_WORKERS } from '../../mirror/link-config.js';
import {
  addClusterFlag,
  addKubeFlags,
  type ClusterFlags,
  type KubeFlags,
  kubeClientFromFlags,
  parseIntegerFlag,
  parseListen,
  parsePortRangeFlag,
} from '../common-flags.js';
import { runUntilSignal } from '../shutdown.js';

interface ControllerFlags extends KubeFlags, ClusterFlags {
  gatewayAdmin: string;
  gatewayEndpoints?: string;
  /** false: --no-gateway. */
  gateway: boolean;
  egressPortRange: string;
  mirrorWorkers: string;
  mirrorDeletionGrace: string;
  failoverControlledBy: string;
  leaderElect: boolean;
  adminHost?: string;
  adminPort: string;
  logLevel: string;
}

export function registerController(program: Command): void {
  addKubeFlags(
    addClusterFlag(
      program
        .command('controller')
        .description('Run the mirror, failover and federation controllers of one cluster (leader-elected)'),
    )
      .option(
        '--gateway-admin <url>',
        'local gateway admin URL (serves /probe)',
        `http://127.0.0.1:${PORTS.admin}`,
      )
      .option(
        '--gateway-endpoints <addresses>',
        'static local gateway addresses (default: its EndpointSlices)',
      )
      .option(
        '--no-gateway',
        'this cluster runs no gateway (isthmus install --no-gateway): Links with a gatewayAddress are invalid, only remote-discovery Services and federated members are mirrored',
      )
      .option(
        '--egress-port-range <first-last>',
        'egress ports to allocate',
        `${PORTS.egressRange.first}-${PORTS.egressRange.last}`,
      )
      .option(
        '--mirror-workers <n>',
        'remote Services synced at once per Link (as kube-controller-manager --concurrent-*-syncs)',
        String(DEFAULT_MIRROR_WORKERS),
      )
      .option(
        '--mirror-deletion-grace <duration>',
        "how long mirrors are kept when one remote list lacks more than half of a Link's mirrored Services at once (a restored remote API), before those still missing are deleted; 0 deletes them at once",
        `${DEFAULT_DELETION_GRACE_MS / 60_000}m`,
      )
      .option(
        '--failover-controlled-by <value>',
        'failover.linkerd.io/controlled-by value to act on',
        FAILOVER_CONTROLLED_BY_DEFAULT,
      )
      .option('--no-leader-elect', 'write without holding the Lease (one replica only)')
      .option('--admin-host <address>', 'admin address (/live, /ready, /metrics; default: every interface)')
      .option('--admin-port <port>', 'admin port', String(PORTS.admin))
      .option('--log-level <level>', 'log level', 'info'),
    { rateLimit: true },
  ).action(async (flags: ControllerFlags) => {
    const { splitAddresses } = await import('../../mirror/link-config.js');
    const { runControllerProcess } = await import('../controller/run-controller-process.js');
    const { applyControllerV8Flags } = await import('../controller/process-flags.js');
    applyControllerV8Flags();
    const admin = parseListen(`${flags.adminHost ?? ''}:${flags.adminPort}`, '--admin-host/--admin-port');
    const egressPortRange = parsePortRangeFlag(flags.egressPortRange, '--egress-port-range');
    const mirrorWorkers = parseIntegerFlag(flags.mirrorWorkers, '--mirror-workers', 1, 256);
    const { parseDeletionGrace } = await import('../controller/deletion-grace-flag.js');
    const mirrorDeletionGraceMs = parseDeletionGrace(flags.mirrorDeletionGrace);
    const client = await kubeClientFromFlags(flags);
    await runUntilSignal((signal) =>
      runControllerProcess(
        {
          cluster: flags.cluster,
          client,
          gatewayAdminUrl: flags.gatewayAdmin,
          gatewayEndpoints: splitAddresses(flags.gatewayEndpoints),
          localGateway: flags.gateway,
          egressPortRange,
          mirrorWorkers,
          mirrorDeletionGraceMs,
          failoverControlledBy: flags.failoverControlledBy,
          leaderElect: flags.leaderElect,
          admin,
          logLevel: flags.logLevel,
        },
        signal,
      ),
    );
  });
}

import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { gatewayFlagsFromArgv, gatewayOptionsFromFlags } from '../../gateway/config.js';
import { authorizePeer } from '../../gateway/peers.js';
import { addInstallFlags, givenInstallFlags, installFlagsOf } from './install-flags.js';
import { installManifests } from './render.js';
import { testInstallOptions } from './test-options.js';

type Deployment = {
  kind: string;
  metadata: { name: string };
  spec: { template: { spec: { containers: { args: string[] }[] } } };
};

/** The gateway's args as rendered, parsed by the gateway itself (subcommand name dropped). */
function gatewayConfig(extra: Record<string, unknown>) {
  const gw = (installManifests(testInstallOptions(extra)) as Deployment[]).find(
    (o) => o.kind === 'Deployment' && o.metadata.name === 'isthmus-gateway',
  )!;
  const [, ...argv] = gw.spec.template.spec.containers[0]!.args;
  return gatewayOptionsFromFlags(gatewayFlagsFromArgv(argv));
}

const peer = (cluster: string) => `spiffe://cluster.local/cluster/${cluster}/gateway`;

describe('isthmus install --allow-cluster', () => {
  it("renders the gateway's --allow-cluster: the consumer is admitted without a Link back", () => {
    const config = gatewayConfig({ allowCluster: ['west', 'north,south', 'west'] });
    expect(config.allowedClusters).toEqual(['west', 'north', 'south']);
    const admitted = new Set(config.allowedClusters);
    expect(authorizePeer(peer('west'), admitted, 'cluster.local')).toEqual({ ok: true, cluster: 'west' });
    expect(authorizePeer(peer('far'), admitted, 'cluster.local')).toMatchObject({ ok: false });
  });

  it('renders none by default: only the targets of Links are admitted', () => {
    expect(gatewayConfig({}).allowedClusters).toEqual([]);
  });

  it.each([['West'], ['a_b'], [''], ['x'.repeat(64)]])('refuses %j as link refuses it', (name) => {
    expect(() => testInstallOptions({ allowCluster: [name] })).toThrow(
      /--allow-cluster .*expected a cluster name/,
    );
  });

  it('is a gateway flag: --no-gateway refuses it', () => {
    expect(() => testInstallOptions({ gateway: false, allowCluster: ['west'] })).toThrow(
      /--no-gateway .* takes no .*--allow-cluster/,
    );
  });

  it('is recorded for isthmus upgrade, as given', () => {
    const cmd = addInstallFlags(new Command('install').exitOverride(), { clusterNameRequired: true }).parse(
      ['--cluster-name', 'east', '--allow-cluster', 'west,north', '--allow-cluster', 'south'],
      { from: 'user' },
    );
    const given = givenInstallFlags(cmd);
    expect(given['allow-cluster']).toEqual(['west,north', 'south']);
    expect(installFlagsOf(cmd, given).allowCluster).toEqual(['west,north', 'south']);
  });
});

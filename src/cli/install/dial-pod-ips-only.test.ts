/**
 * `isthmus install --gateway-dial-pod-ips-only`: the gateway's `--dial-pod-ips-only`, with the one
 * grant it needs (get, list, watch pods cluster-wide) in the gateway's ClusterRole, and neither
 * without it. `isthmus upgrade` keeps it as recorded and drops it with `--unset`.
 */
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { gatewayFlagsFromArgv, gatewayOptionsFromFlags } from '../../gateway/config.js';
import { installOptionsFromFlags } from '../commands/install.js';
import { upgradeFlags } from '../upgrade/plan-upgrade.js';
import { addInstallFlags, givenInstallFlags, INSTALL_FLAG_KINDS, installFlagsOf } from './install-flags.js';
import { flagChanges, type InstallRecord } from './install-record.js';
import { installManifests } from './render.js';
import { PEM, TEST_FLAGS, testInstallOptions } from './test-options.js';

type Doc = {
  kind: string;
  metadata: { name: string };
  rules?: { apiGroups: string[]; resources: string[]; verbs: string[] }[];
  spec?: { template: { spec: { containers: { args: string[] }[] } } };
};

function rendered(opts: ReturnType<typeof testInstallOptions>) {
  const docs = installManifests(opts) as Doc[];
  const gateway = docs.find((d) => d.kind === 'Deployment' && d.metadata.name === 'isthmus-gateway')!;
  const [, ...argv] = gateway.spec!.template.spec.containers[0]!.args;
  const role = docs.find((d) => d.kind === 'ClusterRole' && d.metadata.name === 'isthmus-gateway')!;
  const readsPods = docs.some((d) =>
    (d.rules ?? []).some((r) => r.resources.includes('pods') || r.resources.includes('*')),
  );
  return { config: gatewayOptionsFromFlags(gatewayFlagsFromArgv(argv)), role, readsPods };
}

describe('isthmus install --gateway-dial-pod-ips-only', () => {
  it("renders the gateway's --dial-pod-ips-only and lets it read pods, in its own ClusterRole", () => {
    const { config, role } = rendered(testInstallOptions({ gatewayDialPodIpsOnly: true }));
    expect(config.dialPodIPsOnly).toBe(true);
    expect(role.rules).toContainEqual({
      apiGroups: [''],
      resources: ['pods'],
      verbs: ['get', 'list', 'watch'],
    });
  });

  it('grants nothing on pods to anyone without it (least privilege)', () => {
    const { config, readsPods } = rendered(testInstallOptions());
    expect(config.dialPodIPsOnly).toBe(false);
    expect(readsPods).toBe(false);
  });

  it('is a gateway flag: --no-gateway refuses it', () => {
    expect(() =>
      installOptionsFromFlags(
        {
          clusterName: 'west',
          gateway: false,
          trustDomain: 'cluster.local',
          clusterDomain: 'cluster.local',
          image: TEST_FLAGS.image,
          imagePullPolicy: 'IfNotPresent',
          controllerReplicas: '2',
          failoverControlledBy: 'linkerd-failover',
          gatewayDialPodIpsOnly: true,
        },
        undefined,
        undefined,
      ),
    ).toThrow(/--no-gateway .* takes no .*--gateway-dial-pod-ips-only/);
  });

  describe('through isthmus upgrade', () => {
    const parse = (args: string[]) =>
      addInstallFlags(new Command('install').exitOverride(), { clusterNameRequired: false }).parse(args, {
        from: 'user',
      });
    const installed = parse(['--cluster-name', 'east', '--gateway-dial-pod-ips-only']);
    const record: InstallRecord = { version: '0.1.0', flags: givenInstallFlags(installed), objects: [] };
    /** What upgrade renders for `args` and `unset` over the record (install's path from there on). */
    const upgraded = (args: string[], unset: string[] = []) => {
      const cmd = parse(args);
      const flags = upgradeFlags(record, givenInstallFlags(cmd), unset, INSTALL_FLAG_KINDS);
      const opts = installOptionsFromFlags(
        { ...TEST_FLAGS, ...installFlagsOf(cmd, flags) },
        PEM('CERTIFICATE'),
        { certPem: PEM('CERTIFICATE'), keyPem: PEM('PRIVATE KEY') },
      );
      return { flags, ...rendered(opts) };
    };

    it('is recorded as the switch it is', () => {
      expect(record.flags).toEqual({ 'cluster-name': 'east', 'gateway-dial-pod-ips-only': true });
    });

    it('keeps it when upgrading with other flags', () => {
      const { flags, config, readsPods } = upgraded(['--gateway-replicas', '3']);
      expect(flagChanges(record.flags, flags)).toEqual(['--gateway-replicas: unset → 3']);
      expect(config.dialPodIPsOnly).toBe(true);
      expect(readsPods).toBe(true);
    });

    it('turns it off with --unset, and the grant with it', () => {
      const { flags, config, readsPods } = upgraded([], ['gateway-dial-pod-ips-only']);
      expect(flagChanges(record.flags, flags)).toEqual(['--gateway-dial-pod-ips-only: on → unset']);
      expect(config.dialPodIPsOnly).toBe(false);
      expect(readsPods).toBe(false);
    });
  });
});

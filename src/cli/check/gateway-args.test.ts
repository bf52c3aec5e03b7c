/** The gateway Deployment's admission, read as the gateway reads its argv and environment. */
import type { V1Container } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { isIsthmusError } from '../../errors.js';
import { gatewayFlagsFromArgv, gatewayOptionsFromFlags } from '../../gateway/config.js';
import type { V1Deployment } from '../../kube/types.js';
import { gatewayAdmission } from './gateway-args.js';

const deployment = (container: Partial<V1Container>): V1Deployment => ({
  spec: {
    selector: {},
    template: { spec: { containers: [{ name: 'gateway', ...container }] } },
  },
});

describe('gatewayAdmission', () => {
  it('parses the flags after the entrypoint and verb, repeated and comma-separated alike', () => {
    const d = deployment({
      command: ['node', '/opt/isthmus/bin/isthmus.mjs'],
      args: ['gateway', '--cluster', 'east', '--allow-cluster', 'a,b', '--allow-cluster=c'],
    });
    expect(gatewayAdmission(d)).toEqual({ allowCluster: ['a', 'b', 'c'], cluster: 'east' });
  });

  it('expands $(VAR) from the literal env, as the kubelet does, and takes ISTHMUS_CLUSTER_NAME for --cluster', () => {
    const d = deployment({
      args: ['gateway', '--allow-cluster=$(PEERS)'],
      env: [
        { name: 'PEERS', value: 'north' },
        { name: 'ISTHMUS_CLUSTER_NAME', value: 'east' },
      ],
    });
    expect(gatewayAdmission(d)).toEqual({ allowCluster: ['north'], cluster: 'east' });
  });

  it('names where ISTHMUS_ALLOW_CLUSTERS may come from when envFrom could set it', () => {
    const d = deployment({ args: ['gateway'], envFrom: [{ configMapRef: { name: 'gw' } }] });
    expect(gatewayAdmission(d)).toEqual({
      allowCluster: [],
      unreadList: 'possibly set by envFrom ConfigMap gw',
    });
  });

  it('an empty --allow-cluster= still wins over the variable, as in the gateway', () => {
    const d = deployment({
      args: ['gateway', '--allow-cluster='],
      env: [{ name: 'ISTHMUS_ALLOW_CLUSTERS', value: 'west' }],
    });
    expect(gatewayAdmission(d)).toEqual({ allowCluster: [], overriddenList: 'west' });
  });

  it("throws the gateway's own USAGE error for a flag it does not know", () => {
    let err: unknown;
    try {
      gatewayAdmission(deployment({ args: ['gateway', '--no-such-flag'] }));
    } catch (e) {
      err = e;
    }
    expect(isIsthmusError(err, 'USAGE')).toBe(true);
  });

  // The precedence of flag over variable is the gateway's (gatewayOptionsFromFlags): kept in step.
  it.each<[string[], string | undefined]>([
    [['--allow-cluster', 'a'], 'b'],
    [['--allow-cluster='], 'b'],
    [[], ' b , c '],
    [[], ''],
    [['--allow-cluster=a,b', '--allow-cluster', 'c'], undefined],
  ])('admits what the gateway itself admits: %j with ISTHMUS_ALLOW_CLUSTERS=%j', (flags, list) => {
    const env = list === undefined ? {} : { ISTHMUS_ALLOW_CLUSTERS: list };
    const base = ['--cluster=east', '--in-cluster', '--cert-file=c', '--key-file=k', '--ca-file=a'];
    const gateway = gatewayOptionsFromFlags(gatewayFlagsFromArgv([...base, ...flags]), env);
    const d = deployment({
      args: ['gateway', ...base, ...flags],
      env: Object.entries(env).map(([name, value]) => ({ name, value })),
    });
    expect(gatewayAdmission(d).allowCluster).toEqual(gateway.allowedClusters);
  });
});

/**
 * The lab runs what the isthmus-system Deployments declare, with the flags the lab owns replaced:
 * checked on every Deployment `isthmus install` renders, parsed by the real CLI's own options.
 */
import { join } from 'node:path';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { gatewayOptionsFromFlags } from '../../gateway/config.js';
import { SYSTEM_NAMESPACE } from '../../kube/keys.js';
import type { V1Pod } from '../../kube/types.js';
import { registerController } from '../commands/controller.js';
import { registerGateway } from '../commands/gateway.js';
import { registerIdentity } from '../commands/identity.js';
import { installOptionsFromFlags } from '../commands/install.js';
import { installManifests } from '../install/render.js';
import { NO_GATEWAY_FLAGS, testInstallOptions } from '../install/test-options.js';
import { labInstallOptions } from './bootstrap.js';
import { podLaunch } from './pod-launch.js';
import {
  commandOptions,
  type LabPart,
  labFlags,
  PASSED_AS_DECLARED,
  type SystemPart,
} from './system-argv.js';
import { labCluster } from './topology.js';

const EAST = labCluster('east', 171);
const DIR = '/lab';
const CERTS = join(DIR, 'certs');
const PARTS: readonly SystemPart[] = ['identity', 'gateway', 'controller'];

function labPart(part: SystemPart): LabPart {
  return {
    part,
    cluster: EAST,
    kubeconfig: join(DIR, `east-isthmus-${part}.kubeconfig`),
    certs: CERTS,
    ...(part === 'gateway' ? { identityToken: join(DIR, 'east-gateway.token') } : {}),
  };
}

interface RenderedDeployment {
  kind: string;
  metadata: { name: string };
  spec: { template: { metadata?: V1Pod['metadata']; spec: NonNullable<V1Pod['spec']> } };
}

/** Every install the tests render: the lab's, and one with each optional flag the install has. */
const INSTALLS = {
  lab: labInstallOptions(EAST, { anchorPem: 'a', issuerCertPem: 'c', issuerKeyPem: 'k' }),
  'lab --gateway-dial-pod-ips-only': labInstallOptions(
    EAST,
    { anchorPem: 'a', issuerCertPem: 'c', issuerKeyPem: 'k' },
    { gatewayDialPodIPsOnly: true, trustDomain: 'example.org' },
  ),
  'install --allow-cluster --ha': testInstallOptions({
    allowCluster: ['north', 'south'],
    ha: true,
    gatewayReplicas: '2',
  }),
  'install --no-gateway': installOptionsFromFlags(NO_GATEWAY_FLAGS, undefined, undefined),
};

/** The pod the ReplicaSet would make of `part`'s Deployment in `install`, at the lab's address. */
function renderedPod(install: keyof typeof INSTALLS, part: SystemPart): V1Pod | undefined {
  const d = (installManifests(INSTALLS[install]) as RenderedDeployment[]).find(
    (o) => o.kind === 'Deployment' && o.metadata.name === `isthmus-${part}`,
  );
  if (!d) return undefined;
  return {
    metadata: { ...d.spec.template.metadata, name: `isthmus-${part}-abc`, namespace: SYSTEM_NAMESPACE },
    spec: d.spec.template.spec,
    status: { podIP: '127.0.171.9' },
  };
}

/** What the real CLI's parser makes of `argv` for `part` (the action replaced: nothing starts). */
function parsed(part: SystemPart, argv: string[]): Record<string, unknown> {
  const program = new Command().exitOverride();
  ({ identity: registerIdentity, gateway: registerGateway, controller: registerController })[part](program);
  let flags: Record<string, unknown> = {};
  program.commands[0]!.exitOverride().action((f: Record<string, unknown>) => {
    flags = f;
  });
  program.parse(argv, { from: 'user' });
  return flags;
}

/** The flag names (no dashes) of an argv, with the `--flag=value` and `--flag value` forms. */
const flagNames = (argv: readonly string[]) =>
  argv.filter((a) => a.startsWith('--')).map((a) => a.slice(2).split('=')[0]!);

const cases = Object.keys(INSTALLS).flatMap((install) =>
  PARTS.map((part) => [install as keyof typeof INSTALLS, part] as const),
);

describe('the lab runs the Deployments it is given', () => {
  it.each(cases)("%s: %s's flags are each owned by the lab or passed as declared", (install, part) => {
    const pod = renderedPod(install, part);
    if (!pod) return;
    const owned = labFlags(labPart(part));
    const declared = flagNames(pod.spec!.containers[0]!.args!);
    // A flag the install renders and the lab has not decided on fails here: decide in system-argv.ts.
    for (const flag of declared) expect([...Object.keys(owned), ...PASSED_AS_DECLARED[part]]).toContain(flag);
  });

  it.each(PARTS)('every option of `isthmus %s` is owned by the lab or passed as declared', (part) => {
    const decided = [...Object.keys(labFlags(labPart(part))), ...PASSED_AS_DECLARED[part]];
    for (const o of commandOptions(part)) expect(decided).toContain(o.long!.slice(2));
  });

  it.each(cases)('%s: %s runs with the lab addresses and files, parsed by the real CLI', (install, part) => {
    const pod = renderedPod(install, part);
    if (!pod) return;
    const launch = podLaunch(pod, labPart(part));
    if ('problem' in launch) throw new Error(launch.problem);
    const args = pod.spec!.containers[0]!.args!;
    expect(launch.args[0]).toBe(part);
    // Every flag the Deployment passes on as declared reaches the process as it is written.
    for (const a of args.slice(1))
      if (PASSED_AS_DECLARED[part].includes(a.slice(2).split('=')[0]!)) expect(launch.args).toContain(a);
    expect(launch.args).not.toContain('--in-cluster');
    // Every path is the lab's, every address one of the cluster's loopback addresses.
    const f = parsed(part, launch.args);
    expect(f.kubeconfig).toBe(labPart(part).kubeconfig);
    const paths = ['issuerCert', 'issuerKey', 'trustAnchor', 'crlFile', 'caFile', 'tokenFile'];
    for (const p of paths) if (f[p] !== undefined) expect(String(f[p])).toMatch(/^\/lab\//);
    if (part === 'identity') {
      expect(f).toMatchObject({
        listen: '127.0.171.3:8080',
        healthListen: '127.0.171.3:9990',
        adminListen: '127.0.171.3:9991',
        issuerCert: join(CERTS, 'east', 'issuer.crt'),
        issuerKey: join(CERTS, 'east', 'issuer.key'),
        trustAnchor: join(CERTS, 'ca.crt'),
        crlFile: join(CERTS, 'crl.pem'),
      });
    }
    if (part === 'controller') {
      expect(f).toMatchObject({ adminHost: '127.0.171.4', adminPort: '4191' });
      if (f.gateway !== false) expect(f.gatewayAdmin).toBe('http://127.0.171.2:4191');
      expect(launch.env.POD_NAME).toBe('isthmus-controller-abc');
    }
    if (part === 'gateway') {
      // The gateway's own validation accepts it, with the environment the pod gives it.
      const config = gatewayOptionsFromFlags(f, launch.env);
      expect(config).toMatchObject({
        ingress: { host: '127.0.171.2', port: 4143 },
        admin: { host: '127.0.171.2', port: 4191 },
        egressHost: '127.0.171.2',
        // What the mirrors' slices list of its pod: the lab's value, whatever the pod's env says.
        podIPs: ['127.0.171.2'],
        kube: { kind: 'kubeconfig', paths: [labPart('gateway').kubeconfig] },
        certificates: {
          kind: 'certify',
          identityAddress: '127.0.171.3:8080',
          tokenFile: join(DIR, 'east-gateway.token'),
          caFile: join(CERTS, 'ca.crt'),
        },
        crlFile: join(CERTS, 'crl.pem'),
        // The lab's gateways stop at once: no second replica would take the traffic meanwhile.
        shutdown: { drainDelayMs: 0, graceMs: 0 },
        accessLog: true,
      });
      // NODE_OPTIONS, as the Deployment declares it.
      expect(launch.env.NODE_OPTIONS).toBe('--max-semi-space-size=4');
    }
  });
});

/** The lab's gateway pod with its container changed by `edit`. */
function editedGateway(edit: (c: NonNullable<V1Pod['spec']>['containers'][number]) => void): V1Pod {
  const pod = renderedPod('lab', 'gateway')!;
  const spec = structuredClone(pod.spec!);
  edit(spec.containers[0]!);
  return { ...pod, spec };
}

const launchOf = (pod: V1Pod) => podLaunch(pod, labPart('gateway'));

describe('a Deployment edited by hand', () => {
  it.each([
    ['--max-tunnels=7', ['--max-tunnels=7']],
    ['--max-tunnels 7', ['--max-tunnels', '7']],
    ['--allow-cluster north', ['--allow-cluster', 'north']],
  ])('%s reaches the process as written', (_, extra) => {
    const launch = launchOf(editedGateway((c) => c.args!.push(...extra)));
    expect('args' in launch && launch.args.join(' ')).toContain(extra.join(' '));
  });

  it.each([
    ['--admin-port 9999', ['--admin-port', '9999']],
    ['--admin-port=9999', ['--admin-port=9999']],
    ['--ingress-host 0.0.0.0', ['--ingress-host', '0.0.0.0']],
    ['--in-cluster', ['--in-cluster']],
    ['--kubeconfig /etc/kube/config', ['--kubeconfig', '/etc/kube/config']],
    ['--drain-delay-ms=30000', ['--drain-delay-ms=30000']],
  ])('%s, which the lab owns, is replaced by the lab’s value', (_, extra) => {
    const launch = launchOf(editedGateway((c) => c.args!.push(...extra)));
    if ('problem' in launch) throw new Error(launch.problem);
    const f = parsed('gateway', launch.args);
    expect(f).toMatchObject({ adminPort: '4191', ingressHost: '127.0.171.2', drainDelayMs: '0' });
    expect(f.kubeconfig).toBe(labPart('gateway').kubeconfig);
    expect(f.inCluster).toBeUndefined();
    for (const v of ['9999', '0.0.0.0', '/etc/kube/config', '30000']) expect(launch.args).not.toContain(v);
  });

  it('maps a path through the pod’s volume mounts, wherever the Deployment mounts the volume', () => {
    const launch = launchOf(
      editedGateway((c) => {
        c.volumeMounts = c.volumeMounts!.map((m) =>
          m.name === 'anchor' ? { ...m, mountPath: '/anchor' } : m,
        );
        c.args = c.args!.map((a) => (a.startsWith('--ca-file=') ? '--ca-file=/anchor/ca.crt' : a));
      }),
    );
    expect('args' in launch && launch.args).toContain(`--ca-file=${join(CERTS, 'ca.crt')}`);
  });

  it('expands $(VAR) from the container’s env, as the kubelet does', () => {
    const launch = launchOf(
      editedGateway((c) => {
        c.env = [...(c.env ?? []), { name: 'TUNNELS', value: '7' }, { name: 'ALSO', value: '$(TUNNELS)0' }];
        c.args!.push('--max-tunnels=$(ALSO)', '--export-selector=a=$$(TUNNELS)');
      }),
    );
    expect('args' in launch && launch.args).toEqual(
      expect.arrayContaining(['--max-tunnels=70', '--export-selector=a=$(TUNNELS)']),
    );
    expect('env' in launch && launch.env).toMatchObject({ TUNNELS: '7', ALSO: '70' });
  });

  it.each([
    ['an unmapped file', ['--cert-file=/etc/tls/tls.crt'], '--cert-file=/etc/tls/tls.crt'],
    ['an unmapped file, separate value', ['--key-file', '/etc/tls/tls.key'], '--key-file'],
    ['an unmapped key of a mapped volume', ['--ca-file=/var/run/isthmus/anchor/other.crt'], '--ca-file'],
    ['a Service the lab does not run', ['--identity-address=vault.example.com:8200'], '--identity-address'],
  ])('refuses %s, naming the flag', (_, extra, named) => {
    const launch = launchOf(editedGateway((c) => c.args!.push(...extra)));
    expect('problem' in launch && launch.problem).toContain(named);
  });

  it.each([
    ['ISTHMUS_CERT_FILE', { name: 'ISTHMUS_CERT_FILE', value: '/etc/tls/tls.crt' }, 'ISTHMUS_CERT_FILE'],
    ['a secretKeyRef', { name: 'X', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }, 'X'],
  ])('refuses an env var it cannot give: %s', (_, env, named) => {
    const launch = launchOf(editedGateway((c) => c.env!.push(env)));
    expect('problem' in launch && launch.problem).toContain(named);
  });

  it('gives the env the gateway reads as the flag would be: owned dropped, paths mapped, the rest as is', () => {
    const launch = launchOf(
      editedGateway((c) =>
        c.env!.push(
          { name: 'ISTHMUS_IN_CLUSTER', value: 'true' },
          { name: 'ISTHMUS_CRL_FILE', value: '/var/run/isthmus/crl/crl.pem' },
          { name: 'ISTHMUS_MAX_TUNNELS', value: '7' },
          { name: 'ISTHMUS_ACCESS_LOG', value: 'false' },
        ),
      ),
    );
    if ('problem' in launch) throw new Error(launch.problem);
    expect(launch.env.ISTHMUS_IN_CLUSTER).toBeUndefined();
    expect(launch.env).toMatchObject({
      ISTHMUS_CRL_FILE: join(CERTS, 'crl.pem'),
      ISTHMUS_MAX_TUNNELS: '7',
      // The lab's default access log is the container's to turn off.
      ISTHMUS_ACCESS_LOG: 'false',
    });
  });

  it.each([
    ['another verb', (c: { args?: string[] }) => c.args!.splice(0, 1, 'controller'), 'controller'],
    ['another command', (c: { command?: string[] }) => (c.command = ['/bin/sh', '-c']), 'command'],
  ])('refuses %s', (_, edit, named) => {
    const launch = launchOf(editedGateway(edit));
    expect('problem' in launch && launch.problem).toContain(named);
  });

  it('runs the image entrypoint given as command', () => {
    const launch = launchOf(editedGateway((c) => (c.command = ['node', '/opt/isthmus/bin/isthmus.mjs'])));
    expect('args' in launch && launch.args[0]).toBe('gateway');
  });
});

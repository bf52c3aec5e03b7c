import { describe, expect, it } from 'vitest';
import { anyAddress } from '../host-port.js';
import {
  type GatewayFlags,
  gatewayArgvFromFlags,
  gatewayFlagsFromArgv,
  gatewayOptionsFromFlags,
} from './config.js';
import { certFiles as files, minimalFlags as minimal, usageMessage } from './test-support/config-flags.js';

describe('gatewayOptionsFromFlags', () => {
  it('takes $KUBECONFIG as a list, kubectl-style, and --kubeconfig as one file', () => {
    const { kubeconfig: _, ...noKubeconfig } = minimal;
    expect(gatewayOptionsFromFlags(noKubeconfig, { KUBECONFIG: '/k/east:/k/west:' }).kube).toEqual({
      kind: 'kubeconfig',
      paths: ['/k/east', '/k/west'],
    });
    expect(gatewayOptionsFromFlags(minimal, { KUBECONFIG: '/k/east:/k/west' }).kube).toEqual({
      kind: 'kubeconfig',
      paths: ['/k/config'],
    });
  });

  it('fills the documented defaults', () => {
    const config = gatewayOptionsFromFlags(minimal);
    expect(config).toMatchObject({
      clusterName: 'west',
      trustDomain: 'cluster.local',
      clusterDomain: 'cluster.local',
      systemNamespace: 'isthmus-system',
      kube: { kind: 'kubeconfig', paths: ['/k/config'] },
      ingress: { host: anyAddress(), port: 4143 },
      admin: { host: anyAddress(), port: 4191 },
      egressHost: anyAddress(),
      // Unknown: --egress-host is every interface; the drain keeps to its fixed delay.
      podIPs: [],
      exportSelector: 'mirror.linkerd.io/exported=true',
      federatedSelector: 'mirror.linkerd.io/federated=member',
      allowedClusters: [],
      // The controller's default: mirrors claiming other ports are not routed.
      egressPortRange: { first: 20000, last: 29999 },
      certificates: { kind: 'files', ...files },
      // Stops at once unless told to drain (the install's Deployment does).
      shutdown: { drainDelayMs: 0, graceMs: 0 },
    });
  });

  it('reads the graceful-shutdown settings from flags or the environment', () => {
    expect(
      gatewayOptionsFromFlags({ ...minimal, drainDelayMs: '5000', shutdownGraceMs: '25000' }).shutdown,
    ).toEqual({
      drainDelayMs: 5000,
      graceMs: 25000,
    });
    expect(gatewayOptionsFromFlags(minimal, { ISTHMUS_SHUTDOWN_GRACE_MS: '1000' }).shutdown).toEqual({
      drainDelayMs: 0,
      graceMs: 1000,
    });
  });

  it.each<[string, GatewayFlags, Record<string, string>, string[]]>([
    ['a flag', { podIp: '10.1.2.3' }, {}, ['10.1.2.3']],
    // The downward API's status.podIPs: every family the pod has, comma-separated.
    [
      'status.podIPs from the environment',
      {},
      { ISTHMUS_POD_IP: '10.1.2.3,fd00::3' },
      ['10.1.2.3', 'fd00::3'],
    ],
    ['a flag over the environment', { podIp: '10.1.2.4' }, { ISTHMUS_POD_IP: '10.1.2.3' }, ['10.1.2.4']],
    ['each address once', { podIp: '10.1.2.3, 10.1.2.3' }, {}, ['10.1.2.3']],
    // The lab: each gateway listens on an address of its own, which its slices list.
    ['none, from a specific --egress-host', { egressHost: '127.0.171.2' }, {}, ['127.0.171.2']],
    ['over --egress-host', { egressHost: '127.0.171.2', podIp: '10.1.2.3' }, {}, ['10.1.2.3']],
    ['none, --egress-host every IPv4 address', { egressHost: '0.0.0.0' }, {}, []],
    ['none, --egress-host every address', { egressHost: '::' }, {}, []],
    ['none, --egress-host a name', { egressHost: 'localhost' }, {}, []],
    // A zone names an interface, not the address an EndpointSlice lists (none has a zone): unknown,
    // as before --pod-ip was, and the drain keeps the fixed delay.
    ['none, --egress-host a zone-scoped address', { egressHost: 'fe80::1%eth0' }, {}, []],
    ['an empty variable, as absent', { egressHost: '::' }, { ISTHMUS_POD_IP: '' }, []],
  ])('takes the pod IPs from %s', (_name, flags, env, expected) => {
    expect(gatewayOptionsFromFlags({ ...minimal, ...flags }, env).podIPs).toEqual(expected);
  });

  it.each<[string, GatewayFlags, Record<string, string>, string]>([
    ['a flag', { federatedSelector: ' team=a,tier in (web) ' }, {}, 'team=a,tier in (web)'],
    ['the environment', {}, { ISTHMUS_FEDERATED_SELECTOR: 'team=a' }, 'team=a'],
    [
      'a flag over the environment',
      { federatedSelector: 'team=b' },
      { ISTHMUS_FEDERATED_SELECTOR: 'team=a' },
      'team=b',
    ],
    // '' is not "unset" here: it turns federated admission off, from a flag or the environment.
    ['an empty flag: off', { federatedSelector: '' }, {}, ''],
    [
      'an empty flag over the environment: off',
      { federatedSelector: '' },
      { ISTHMUS_FEDERATED_SELECTOR: 'a=b' },
      '',
    ],
    ['an empty variable: off', {}, { ISTHMUS_FEDERATED_SELECTOR: '' }, ''],
  ])('takes the federated selector from %s', (_name, flags, env, expected) => {
    expect(gatewayOptionsFromFlags({ ...minimal, ...flags }, env).federatedSelector).toBe(expected);
  });

  it('lets flags win over the environment', () => {
    const config = gatewayOptionsFromFlags(
      { ...minimal, adminPort: '0' },
      { ISTHMUS_ADMIN_PORT: '9999', ISTHMUS_INGRESS_PORT: '4444', ISTHMUS_ALLOW_CLUSTERS: 'a, b' },
    );
    expect(config.admin.port).toBe(0);
    expect(config.ingress.port).toBe(4444);
    expect(config.allowedClusters).toEqual(['a', 'b']);
    expect(
      gatewayOptionsFromFlags(minimal, { ISTHMUS_EGRESS_PORT_RANGE: '30000-30099' }).egressPortRange,
    ).toEqual({ first: 30000, last: 30099 });
  });

  it('reads the certify source and prefers explicit cert files over an inherited identity address', () => {
    const certify = gatewayOptionsFromFlags(
      { cluster: 'east', inCluster: true },
      { ISTHMUS_IDENTITY_ADDRESS: 'identity:8080', ISTHMUS_TOKEN_FILE: '/t', ISTHMUS_CA_FILE: '/ca' },
    );
    expect(certify.certificates).toEqual({
      kind: 'certify',
      identityAddress: 'identity:8080',
      tokenFile: '/t',
      caFile: '/ca',
    });
    expect(certify.kube).toEqual({ kind: 'in-cluster' });
    const byFiles = gatewayOptionsFromFlags(minimal, { ISTHMUS_IDENTITY_ADDRESS: 'identity:8080' });
    expect(byFiles.certificates.kind).toBe('files');
  });

  it.each<[string, GatewayFlags, string]>([
    ['missing cluster', { ...minimal, cluster: undefined }, '--cluster is required'],
    ['cluster not a DNS label', { ...minimal, cluster: 'West_1' }, 'not a DNS label'],
    ['bad port', { ...minimal, ingressPort: '70000' }, '--ingress-port "70000" is not a port number'],
    ['bad host', { ...minimal, egressHost: 'not a host' }, '--egress-host'],
    ['no certificates', { cluster: 'west', kubeconfig: '/k' }, 'certificates: give'],
    ['partial files', { cluster: 'west', kubeconfig: '/k', certFile: '/c' }, '--key-file is required'],
    [
      'no anchor',
      { cluster: 'west', kubeconfig: '/k', certFile: '/c', keyFile: '/k' },
      '--ca-file (the trust anchor)',
    ],
    ['both sources', { ...minimal, identityAddress: 'x:1', tokenFile: '/t' }, 'choose either'],
    [
      'certify without token',
      { cluster: 'w', kubeconfig: '/k', identityAddress: 'x:1' },
      'needs --token-file',
    ],
    ['no kubeconfig', { cluster: 'west', ...files }, '--kubeconfig (or KUBECONFIG) is required'],
    [
      'in-cluster with a kubeconfig',
      { ...minimal, inCluster: true },
      '--in-cluster excludes --kubeconfig (or KUBECONFIG) and --context',
    ],
    [
      'in-cluster with a context',
      { cluster: 'west', ...files, inCluster: true, context: 'kind-west' },
      '--in-cluster excludes',
    ],
    ['bad allowed cluster', { ...minimal, allowCluster: ['ok', 'Not OK'] }, '--allow-cluster "Not OK"'],
    ['bad timeout', { ...minimal, connectTimeoutMs: '-1' }, '--connect-timeout-ms'],
    ['an egress range below 1024', { ...minimal, egressPortRange: '80-90' }, '--egress-port-range "80-90"'],
    ['an egress range backwards', { ...minimal, egressPortRange: '30000-20000' }, '--egress-port-range'],
    [
      'a malformed export selector',
      { ...minimal, exportSelector: 'exported true' },
      '--export-selector "exported true": unable to parse requirement',
    ],
    [
      'a malformed federated selector',
      { ...minimal, federatedSelector: '=member' },
      `--federated-selector "=member": found '='`,
    ],
    [
      'zero timeout',
      { ...minimal, connectTimeoutMs: '0' },
      '--connect-timeout-ms "0" is not a positive integer',
    ],
    [
      'a pod IP that is a name',
      { ...minimal, podIp: 'gateway-0' },
      '--pod-ip "gateway-0" is not an IP address',
    ],
    ['a pod IP of every interface', { ...minimal, podIp: '10.1.2.3,0.0.0.0' }, '--pod-ip "0.0.0.0" is not'],
    ['a pod IP of every IPv6 interface', { ...minimal, podIp: '0::0' }, '--pod-ip "0::0" is not'],
    ['a pod IP list of no address', { ...minimal, podIp: ' , ' }, '--pod-ip "," names no address'],
    [
      'a pod IP with a zone',
      { ...minimal, podIp: '10.1.2.3,fe80::1%eth0' },
      '--pod-ip "fe80::1%eth0" has a zone (%eth0): EndpointSlices list pod addresses without one',
    ],
    [
      'negative drain delay',
      { ...minimal, drainDelayMs: '-5' },
      '--drain-delay-ms "-5" is not a non-negative',
    ],
    [
      'a drain delay longer than the grace',
      { ...minimal, drainDelayMs: '5000', shutdownGraceMs: '1000' },
      '--drain-delay-ms 5000 exceeds --shutdown-grace-ms 1000 (the grace includes the delay)',
    ],
  ])('rejects %s', (_name, flags, message) => {
    expect(usageMessage(() => gatewayOptionsFromFlags(flags))).toContain(message);
  });

  it.each([
    ['ISTHMUS_ACCESS_LOG', 'yes', '--access-log "yes" is not true or false (1 or 0)'],
    ['ISTHMUS_ACCESS_LOG', 'on', '--access-log "on"'],
    ['ISTHMUS_IN_CLUSTER', 'yes', '--in-cluster "yes" is not true or false (1 or 0)'],
  ])('refuses %s=%s rather than reading it as false', (variable, value, message) => {
    expect(usageMessage(() => gatewayOptionsFromFlags(minimal, { [variable]: value }))).toContain(message);
  });

  it.each([
    ['TRUE', true],
    ['True', true],
    ['1', true],
    ['false', false],
    ['FALSE', false],
    ['0', false],
  ])('reads ISTHMUS_ACCESS_LOG=%s as %s', (value, expected) => {
    expect(gatewayOptionsFromFlags(minimal, { ISTHMUS_ACCESS_LOG: value }).accessLog).toBe(expected);
  });

  it('refuses an identity address and certificate files both from the environment', () => {
    const env = {
      ISTHMUS_IDENTITY_ADDRESS: 'identity:8080',
      ISTHMUS_TOKEN_FILE: '/t',
      ISTHMUS_CERT_FILE: '/c/crt.pem',
      ISTHMUS_KEY_FILE: '/c/key.pem',
      ISTHMUS_CA_FILE: '/ca',
    };
    expect(usageMessage(() => gatewayOptionsFromFlags({ cluster: 'east', inCluster: true }, env))).toContain(
      'choose either ISTHMUS_IDENTITY_ADDRESS or ISTHMUS_CERT_FILE/ISTHMUS_KEY_FILE',
    );
    // A flag says which one is meant: it wins over the other variable.
    expect(
      gatewayOptionsFromFlags({ cluster: 'east', inCluster: true, certFile: '/f', keyFile: '/k' }, env)
        .certificates.kind,
    ).toBe('files');
    expect(
      gatewayOptionsFromFlags({ cluster: 'east', inCluster: true, identityAddress: 'id:1' }, env)
        .certificates,
    ).toMatchObject({ kind: 'certify', identityAddress: 'id:1' });
  });

  it('reports every problem at once', () => {
    const message = usageMessage(() => gatewayOptionsFromFlags({ ingressPort: 'x' }));
    expect(message).toContain('--cluster is required');
    expect(message).toContain('--ingress-port');
    expect(message).toContain('--kubeconfig');
  });
});

describe('gatewayFlagsFromArgv', () => {
  it('parses kebab-case flags, repeated lists and booleans', () => {
    const flags = gatewayFlagsFromArgv([
      '--cluster',
      'west',
      '--admin-port',
      '0',
      '--allow-cluster',
      'east',
      '--allow-cluster',
      'north,south',
      '--in-cluster',
      '--access-log',
      '--federated-selector',
      '',
    ]);
    expect(flags).toEqual({
      cluster: 'west',
      adminPort: '0',
      allowCluster: ['east', 'north,south'],
      inCluster: true,
      accessLog: true,
      federatedSelector: '',
    });
    expect(gatewayOptionsFromFlags({ ...flags, ...files }).federatedSelector).toBe('');
    expect(gatewayOptionsFromFlags({ ...flags, ...files }).accessLog).toBe(true);
    expect(gatewayOptionsFromFlags({ ...minimal }, { ISTHMUS_ACCESS_LOG: 'true' }).accessLog).toBe(true);
    expect(gatewayOptionsFromFlags(minimal).accessLog).toBe(false);
    expect(gatewayOptionsFromFlags({ ...flags, ...files }).allowedClusters).toEqual([
      'east',
      'north',
      'south',
    ]);
  });

  it('round-trips through gatewayArgvFromFlags', () => {
    const flags: GatewayFlags = {
      ...minimal,
      adminPort: 0,
      allowCluster: ['a', 'b'],
      inCluster: true,
      trustDomain: 'td',
      federatedSelector: '',
    };
    expect(gatewayArgvFromFlags(flags)).toContain('--trust-domain');
    expect(gatewayFlagsFromArgv(gatewayArgvFromFlags(flags))).toEqual({ ...flags, adminPort: '0' });
  });

  it('--pod-ip takes the downward API form, and round-trips', () => {
    const flags = gatewayFlagsFromArgv(['--cluster', 'west', '--pod-ip', '10.1.2.3,fd00::3']);
    expect(flags).toEqual({ cluster: 'west', podIp: '10.1.2.3,fd00::3' });
    expect(gatewayArgvFromFlags(flags)).toEqual(['--cluster', 'west', '--pod-ip', '10.1.2.3,fd00::3']);
    expect(gatewayOptionsFromFlags({ ...minimal, ...flags }).podIPs).toEqual(['10.1.2.3', 'fd00::3']);
  });

  it('refuses unknown flags', () => {
    expect(usageMessage(() => gatewayFlagsFromArgv(['--clutser', 'west']))).toContain('clutser');
  });

  it('--dial-pod-ips-only (or ISTHMUS_DIAL_POD_IPS_ONLY) switches the ingress to Pod IPs only; off by default', () => {
    const flags = gatewayFlagsFromArgv(['--cluster', 'west', '--dial-pod-ips-only']);
    expect(flags).toEqual({ cluster: 'west', dialPodIpsOnly: true });
    expect(gatewayOptionsFromFlags({ ...minimal, ...flags }).dialPodIPsOnly).toBe(true);
    expect(gatewayArgvFromFlags({ dialPodIpsOnly: true })).toEqual(['--dial-pod-ips-only']);
    expect(gatewayOptionsFromFlags(minimal, { ISTHMUS_DIAL_POD_IPS_ONLY: '1' }).dialPodIPsOnly).toBe(true);
    expect(gatewayOptionsFromFlags(minimal).dialPodIPsOnly).toBe(false);
    expect(
      usageMessage(() => gatewayOptionsFromFlags(minimal, { ISTHMUS_DIAL_POD_IPS_ONLY: 'yes' })),
    ).toContain('--dial-pod-ips-only "yes" is not true or false (1 or 0)');
  });
});

/**
 * Where the pods run and what they may use: node selectors, tolerations, priority class, image pull
 * secrets and resources, for every pod or the gateway's alone (`isthmus install` flags).
 */
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { decodeBuiltinFields } from '../../sandbox/builtin-fields.js';
import { validateBuiltin } from '../../sandbox/validation.js';
import { registerCommands } from '../commands/index.js';
import { installOptionsFromFlags } from '../commands/install.js';
import { installManifests } from './render.js';
import { NO_GATEWAY_FLAGS, SCHEDULING_FLAGS, testInstallOptions } from './test-options.js';

type PodSpec = {
  nodeSelector?: Record<string, string>;
  tolerations?: object[];
  priorityClassName?: string;
  imagePullSecrets?: { name: string }[];
  containers: { resources?: object }[];
};
type Obj = {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec?: { template?: { spec: PodSpec } };
  imagePullSecrets?: unknown;
};

const COMPONENTS = ['identity', 'gateway', 'controller'] as const;

/** Each Deployment's pod spec by component, from `isthmus install` with `extra` flags. */
function pods(extra: Record<string, unknown>, gateway = true): Record<string, PodSpec> {
  const opts = gateway
    ? testInstallOptions(extra)
    : installOptionsFromFlags({ ...NO_GATEWAY_FLAGS, ...extra }, undefined, undefined);
  return Object.fromEntries(
    (installManifests(opts) as Obj[])
      .filter((o) => o.kind === 'Deployment')
      .map((o) => [o.metadata.name.replace(/^isthmus-/, ''), o.spec!.template!.spec]),
  );
}
const resources = (extra: Record<string, unknown>, component: string) =>
  pods(extra)[component]!.containers[0]!.resources;
const refused = (extra: Record<string, unknown>) => () => testInstallOptions(extra);
/** `--gateway-toleration` → `gatewayToleration`, as commander names it. */
const key = (flag: string) => flag.slice(2).replace(/-(\w)/g, (_, c: string) => c.toUpperCase());

describe('isthmus install: node selectors', () => {
  it('adds --node-selector to every pod and --gateway-node-selector to the gateway, on top of Linux', () => {
    const p = pods({
      nodeSelector: ['disk=ssd', 'pool=system'],
      gatewayNodeSelector: ['node-role.kubernetes.io/edge=', 'pool=edge'],
    });
    const linux = { 'kubernetes.io/os': 'linux' };
    expect(p.identity!.nodeSelector).toEqual({ ...linux, disk: 'ssd', pool: 'system' });
    expect(p.controller!.nodeSelector).toEqual({ ...linux, disk: 'ssd', pool: 'system' });
    // The gateway's own value wins for a key both name.
    expect(p.gateway!.nodeSelector).toEqual({
      ...linux,
      disk: 'ssd',
      pool: 'edge',
      'node-role.kubernetes.io/edge': '',
    });
  });

  it('takes kubernetes.io/os=linux, which changes nothing, and refuses any other OS', () => {
    expect(pods({ nodeSelector: ['kubernetes.io/os=linux'] }).gateway!.nodeSelector).toEqual({
      'kubernetes.io/os': 'linux',
    });
    expect(refused({ gatewayNodeSelector: ['kubernetes.io/os=windows'] })).toThrow(
      '--gateway-node-selector "kubernetes.io/os=windows": the image runs on Linux nodes only (kubernetes.io/os=linux is always set)',
    );
  });

  it.each([
    [['disk'], '--node-selector "disk": expected KEY=VALUE'],
    [['bad key=x'], '--node-selector "bad key=x": name part must consist of alphanumeric characters'],
    [['disk=not ok'], `--node-selector "disk=not ok": a valid label must be an empty string or consist of`],
  ])('refuses --node-selector %j with a message naming it', (nodeSelector, message) => {
    expect(refused({ nodeSelector })).toThrow(message);
  });
});

describe('isthmus install: tolerations', () => {
  it.each([
    [
      'dedicated=edge:NoSchedule',
      { key: 'dedicated', operator: 'Equal', value: 'edge', effect: 'NoSchedule' },
    ],
    ['dedicated:NoExecute', { key: 'dedicated', operator: 'Exists', effect: 'NoExecute' }],
    // An empty effect tolerates the key's taints of every effect.
    ['dedicated=edge:', { key: 'dedicated', operator: 'Equal', value: 'edge' }],
    ['dedicated:', { key: 'dedicated', operator: 'Exists' }],
    // A taint may carry an empty value (kubectl taint nodes n k=:NoSchedule).
    ['dedicated=:NoSchedule', { key: 'dedicated', operator: 'Equal', value: '', effect: 'NoSchedule' }],
    [
      'example.com/gpu=true:PreferNoSchedule',
      { key: 'example.com/gpu', operator: 'Equal', value: 'true', effect: 'PreferNoSchedule' },
    ],
  ])('reads %s as kubectl taint writes it', (toleration, rendered) => {
    expect(pods({ toleration: [toleration] }).controller!.tolerations).toEqual([rendered]);
  });

  it('puts --toleration on every pod, --gateway-toleration on the gateway too, and none by default', () => {
    const p = pods({ toleration: ['infra:NoSchedule'], gatewayToleration: ['edge=true:NoSchedule'] });
    const infra = { key: 'infra', operator: 'Exists', effect: 'NoSchedule' };
    const edge = { key: 'edge', operator: 'Equal', value: 'true', effect: 'NoSchedule' };
    expect([p.identity!.tolerations, p.controller!.tolerations]).toEqual([[infra], [infra]]);
    expect(p.gateway!.tolerations).toEqual([infra, edge]);
    for (const c of COMPONENTS) expect(pods({})[c]).not.toHaveProperty('tolerations');
  });

  it.each([
    ['--toleration', 'dedicated=edge', 'expected KEY[=VALUE]:EFFECT, as kubectl taint takes'],
    ['--toleration', ':NoSchedule', 'a key is required: an empty key would tolerate every taint'],
    [
      '--gateway-toleration',
      'dedicated=edge:NoSchedul',
      'the effect must be NoSchedule, PreferNoSchedule or NoExecute, or empty for all effects',
    ],
    ['--gateway-toleration', 'bad key:NoSchedule', 'name part must consist of alphanumeric characters'],
    ['--toleration', 'k=bad value:NoSchedule', 'a valid label must be an empty string or consist of'],
  ])('refuses %s %j with a message naming flag and value', (flag, value, message) => {
    expect(refused({ [key(flag)]: [value] })).toThrow(`${flag} "${value}": ${message}`);
  });
});

describe('isthmus install: priority class and image pull secrets', () => {
  it('sets both on every pod, the pull secrets on no ServiceAccount', () => {
    const extra = { priorityClassName: 'isthmus-critical', imagePullSecret: ['regcred', 'mirror'] };
    for (const c of COMPONENTS) {
      expect(pods(extra)[c], c).toMatchObject({
        priorityClassName: 'isthmus-critical',
        imagePullSecrets: [{ name: 'regcred' }, { name: 'mirror' }],
      });
      expect(pods({})[c]).not.toHaveProperty('priorityClassName');
      expect(pods({})[c]).not.toHaveProperty('imagePullSecrets');
    }
    const accounts = (installManifests(testInstallOptions(extra)) as Obj[]).filter(
      (o) => o.kind === 'ServiceAccount',
    );
    expect(accounts.filter((a) => a.imagePullSecrets)).toEqual([]);
  });

  it.each([
    [
      { priorityClassName: 'High_Priority' },
      '--priority-class-name "High_Priority" is not a DNS-1123 subdomain',
    ],
    [
      { imagePullSecret: ['Reg Cred'] },
      '--image-pull-secret "Reg Cred" is not a Secret name (a DNS-1123 subdomain)',
    ],
  ])('refuses %o', (extra, message) => {
    expect(refused(extra)).toThrow(message);
  });
});

describe('isthmus install: resources', () => {
  const small = { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '256Mi' } };
  const large = { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '512Mi' } };

  it("keeps each component's defaults without flags", () => {
    expect(COMPONENTS.map((c) => resources({}, c))).toEqual([small, large, large]);
  });

  it('merges each flag over its own component only', () => {
    const extra = {
      gatewayResources: 'requests.cpu=200m, limits.memory=1Gi',
      identityResources: 'limits.cpu=500m',
    };
    expect(resources(extra, 'gateway')).toEqual({
      requests: { cpu: '200m', memory: '128Mi' },
      limits: { memory: '1Gi' },
    });
    expect(resources(extra, 'identity')).toEqual({ ...small, limits: { memory: '256Mi', cpu: '500m' } });
    expect(resources(extra, 'controller')).toEqual(large);
  });

  it('removes a default given an empty value, and the map when nothing is left in it', () => {
    expect(resources({ controllerResources: 'limits.memory=' }, 'controller')).toEqual({
      requests: large.requests,
    });
    expect(
      resources({ controllerResources: 'requests.cpu=,requests.memory=,limits.memory=' }, 'controller'),
    ).toEqual({});
  });

  it.each([
    [
      '--gateway-resources',
      'requests.gpu=1',
      '--gateway-resources "requests.gpu=1": the keys are requests.cpu, requests.memory, limits.cpu and limits.memory',
    ],
    ['--gateway-resources', 'requests.cpu', '--gateway-resources "requests.cpu": expected KEY=VALUE'],
    [
      '--controller-resources',
      'requests.cpu=lots',
      '--controller-resources "requests.cpu=lots": not a quantity (e.g. 200m, 128Mi, 1Gi)',
    ],
    [
      '--controller-resources',
      'limits.cpu=-1',
      '--controller-resources "limits.cpu=-1": must be greater than or equal to 0',
    ],
    [
      '--identity-resources',
      'requests.memory=128m',
      '--identity-resources "requests.memory=128m": a fraction of a byte (m is milli): did you mean 128Mi?',
    ],
    // As the API server says it: the request may not exceed the limit, a default one included.
    [
      '--gateway-resources',
      'requests.memory=1Gi',
      '--gateway-resources: requests.memory 1Gi must be less than or equal to memory limit of 512Mi (the default: set limits.memory too)',
    ],
    [
      '--gateway-resources',
      'requests.cpu=2,limits.cpu=1500m',
      '--gateway-resources: requests.cpu 2 must be less than or equal to cpu limit of 1500m',
    ],
  ])('refuses %s %j', (flag, value, message) => {
    expect(refused({ [key(flag)]: value })).toThrow(message);
  });

  it('takes a request equal to its limit, however each is written', () => {
    expect(resources({ gatewayResources: 'requests.cpu=0.5,limits.cpu=500m' }, 'gateway')).toMatchObject({
      requests: { cpu: '500m' },
      limits: { cpu: '500m' },
    });
  });

  it.each([
    ['gateway', 'requests.cpu=0.5', 'requests', 'cpu', '500m'],
    ['gateway', 'requests.memory=1024Mi,limits.memory=', 'requests', 'memory', '1Gi'],
    ['gateway', 'limits.memory=2000M', 'limits', 'memory', '2G'],
    ['controller', 'requests.cpu=1000m', 'requests', 'cpu', '1'],
  ])(
    'renders %s %s as the API server stores it, so GitOps tools see no difference',
    (c, item, map, r, stored) => {
      const rendered = resources({ [`${c}Resources`]: item }, c) as Record<string, Record<string, string>>;
      expect(rendered[map]?.[r]).toBe(stored);
    },
  );
});

describe('isthmus install --no-gateway: the settings of the pods it has', () => {
  const all = {
    nodeSelector: ['pool=system'],
    toleration: ['infra:NoSchedule'],
    priorityClassName: 'isthmus-critical',
    imagePullSecret: ['regcred'],
    controllerResources: 'limits.memory=1Gi',
  };

  it('honours every flag for every pod on the controller', () => {
    expect(pods(all, false).controller).toMatchObject({
      nodeSelector: { 'kubernetes.io/os': 'linux', pool: 'system' },
      tolerations: [{ key: 'infra', operator: 'Exists', effect: 'NoSchedule' }],
      priorityClassName: 'isthmus-critical',
      imagePullSecrets: [{ name: 'regcred' }],
      containers: [{ resources: { limits: { memory: '1Gi' } } }],
    });
  });

  it.each([
    [{ gatewayNodeSelector: ['edge=true'] }, '--gateway-node-selector'],
    [{ gatewayToleration: ['edge:NoSchedule'] }, '--gateway-toleration'],
    [{ gatewayResources: 'limits.memory=1Gi' }, '--gateway-resources'],
    [{ identityResources: 'limits.memory=1Gi' }, '--identity-resources'],
  ])('refuses %o, which would do nothing without a gateway', (extra, named) => {
    expect(() => pods(extra, false)).toThrow(
      `--no-gateway installs no gateway and no identity service, so it takes no ${named}`,
    );
  });
});

describe('isthmus install: every scheduling flag at once', () => {
  const everything = testInstallOptions(SCHEDULING_FLAGS);

  it('renders only fields the API server knows, in objects it accepts', () => {
    for (const o of installManifests(everything) as Obj[]) {
      const gvk = `${o.apiVersion}/${o.kind}`;
      const copy = structuredClone(o) as Record<string, unknown>;
      expect(decodeBuiltinFields(gvk, o.kind, copy, true), `${o.kind}/${o.metadata.name}`).toEqual([]);
      expect(validateBuiltin(gvk, o, undefined, { allowLoopbackEndpoints: false })).toEqual([]);
    }
  });

  it('lists every flag in isthmus install --help', () => {
    const program = new Command('isthmus');
    registerCommands(program);
    const help = program.commands.find((c) => c.name() === 'install')!.helpInformation();
    for (const flag of [
      '--node-selector <key=value>',
      '--gateway-node-selector <key=value>',
      '--toleration <key[=value]:effect>',
      '--gateway-toleration <key[=value]:effect>',
      '--priority-class-name <name>',
      '--image-pull-secret <name>',
      '--gateway-resources <list>',
      '--controller-resources <list>',
      '--identity-resources <list>',
    ]) {
      expect(help).toContain(flag);
    }
  });
});

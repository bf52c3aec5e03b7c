import { describe, expect, it } from 'vitest';
import { decodeBuiltinFields } from '../../sandbox/builtin-fields.js';
import { validateBuiltin } from '../../sandbox/validation.js';
import { installOptionsFromFlags } from '../commands/install.js';
import {
  DEFAULT_GATEWAY_DRAIN,
  gatewayDrainFromFlags,
  gatewayTerminationGraceSeconds,
} from './gateway-drain.js';
import { installManifests } from './render.js';
import { NO_GATEWAY_FLAGS, PEM, TEST_FLAGS } from './test-options.js';

type Deployment = {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec: {
    minReadySeconds?: number;
    progressDeadlineSeconds?: number;
    template: { spec: { terminationGracePeriodSeconds: number; containers: { args: string[] }[] } };
  };
};

const ISSUER = { certPem: PEM('CERTIFICATE'), keyPem: PEM('PRIVATE KEY') };

function gatewayDeployment(flags: Record<string, string>): Deployment {
  const opts = installOptionsFromFlags({ ...TEST_FLAGS, ...flags }, PEM('CERTIFICATE'), ISSUER);
  const found = (installManifests(opts) as Deployment[]).find(
    (o) => o.kind === 'Deployment' && o.metadata.name === 'isthmus-gateway',
  );
  if (!found) throw new Error('no gateway Deployment rendered');
  return found;
}

function drain(flags: Parameters<typeof gatewayDrainFromFlags>[0]) {
  const problems: string[] = [];
  return { drain: gatewayDrainFromFlags(flags, problems), problems };
}

describe('the gateway drain an install renders', () => {
  it('defaults to a 5 s drain within a 25 s grace and no minReadySeconds', () => {
    expect(drain({})).toEqual({ drain: DEFAULT_GATEWAY_DRAIN, problems: [] });
    expect(DEFAULT_GATEWAY_DRAIN).toEqual({ delayMs: 5_000, graceMs: 25_000, minReadySeconds: 0 });
    expect(gatewayTerminationGraceSeconds(DEFAULT_GATEWAY_DRAIN)).toBe(30);
  });

  it('takes durations, and a longer drain alone moves the grace with it', () => {
    expect(drain({ gatewayDrainDelay: '30s', gatewayMinReadySeconds: '40' }).drain).toEqual({
      delayMs: 30_000,
      graceMs: 50_000,
      minReadySeconds: 40,
    });
    const both = drain({ gatewayDrainDelay: '1m', gatewayShutdownGrace: '1m30s' }).drain;
    expect(both).toMatchObject({ delayMs: 60_000, graceMs: 90_000 });
    expect(gatewayTerminationGraceSeconds({ ...both, graceMs: 90_500 })).toBe(96);
  });

  it('refuses a drain longer than the grace, bad durations and bad seconds, naming each flag', () => {
    expect(drain({ gatewayDrainDelay: '40s', gatewayShutdownGrace: '30s' }).problems).toEqual([
      '--gateway-drain-delay 40s exceeds --gateway-shutdown-grace 30s (the grace includes the delay)',
    ]);
    const { problems } = drain({
      gatewayDrainDelay: 'soon',
      gatewayShutdownGrace: '2h',
      gatewayMinReadySeconds: '-1',
    });
    expect(problems).toEqual([
      '--gateway-drain-delay must be a duration such as 24h or 90s, got "soon"',
      '--gateway-shutdown-grace must be at most 1h',
      '--gateway-min-ready-seconds must be an integer from 0 to 3600, got "-1"',
    ]);
  });

  it('reaches the install options, and --no-gateway refuses the flags', () => {
    const flags = { ...TEST_FLAGS, gatewayDrainDelay: '20s', gatewayMinReadySeconds: '30' };
    const opts = installOptionsFromFlags(flags, PEM('CERTIFICATE'), ISSUER);
    expect(opts.gatewayDrain).toEqual({ delayMs: 20_000, graceMs: 40_000, minReadySeconds: 30 });
    expect(() =>
      installOptionsFromFlags({ ...NO_GATEWAY_FLAGS, gatewayDrainDelay: '20s' }, undefined, undefined),
    ).toThrow(
      /--no-gateway installs no gateway and no identity service, so it takes no --gateway-drain-delay/,
    );
  });

  it('renders into the gateway Deployment: its flags, the pod grace, minReadySeconds only when set', () => {
    const plain = gatewayDeployment({});
    expect(plain.spec.minReadySeconds).toBeUndefined();
    expect(plain.spec.template.spec.terminationGracePeriodSeconds).toBe(30);
    expect(plain.spec.template.spec.containers[0]?.args).toEqual(
      expect.arrayContaining(['--drain-delay-ms=5000', '--shutdown-grace-ms=25000']),
    );
    const slow = gatewayDeployment({ gatewayDrainDelay: '30s', gatewayMinReadySeconds: '45' });
    expect(slow.spec.minReadySeconds).toBe(45);
    expect(slow.spec.template.spec.terminationGracePeriodSeconds).toBe(55);
    expect(slow.spec.template.spec.containers[0]?.args).toEqual(
      expect.arrayContaining(['--drain-delay-ms=30000', '--shutdown-grace-ms=50000']),
    );
    // Fields the API server knows, where it expects them (kubectl apply validates strictly).
    const gvk = `${slow.apiVersion}/${slow.kind}`;
    expect(decodeBuiltinFields(gvk, slow.kind, structuredClone(slow), true)).toEqual([]);
    expect(validateBuiltin(gvk, slow, undefined, { allowLoopbackEndpoints: false })).toEqual([]);
  });

  it('gives a minReadySeconds of 600 or more a progressDeadlineSeconds above it, as the API server requires', () => {
    expect(gatewayDeployment({ gatewayMinReadySeconds: '599' }).spec.progressDeadlineSeconds).toBeUndefined();
    for (const seconds of [600, 3600]) {
      const dep = gatewayDeployment({ gatewayMinReadySeconds: String(seconds) });
      expect(dep.spec.progressDeadlineSeconds).toBe(seconds + 600);
      expect(
        validateBuiltin(`${dep.apiVersion}/${dep.kind}`, dep, undefined, { allowLoopbackEndpoints: false }),
      ).toEqual([]);
    }
  });
});

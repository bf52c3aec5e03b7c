/**
 * The Pod Security Standards' "restricted" profile (kubernetes.io/docs/concepts/security/pod-security-standards,
 * as Pod Security Admission enforces it from a namespace label), checked over every pod template
 * the install renders. The sandbox runs no admission of the kind, so only this test stands for it.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { installOptionsFromFlags } from '../commands/install.js';
import { installManifests } from './render.js';
import { NO_GATEWAY_FLAGS, SCHEDULING_FLAGS, testInstallOptions } from './test-options.js';

const withGateway = testInstallOptions({ ha: true, gatewayReplicas: '2' });
const noGateway = installOptionsFromFlags(NO_GATEWAY_FLAGS, undefined, undefined);
/** Scheduling and resource flags change nothing the profile looks at. */
const scheduled = testInstallOptions(SCHEDULING_FLAGS);

type Ctx = {
  runAsNonRoot?: boolean;
  runAsUser?: number;
  runAsGroup?: number;
  privileged?: boolean;
  allowPrivilegeEscalation?: boolean;
  capabilities?: { add?: string[]; drop?: string[] };
  seccompProfile?: { type?: string };
  procMount?: string;
  windowsOptions?: { hostProcess?: boolean };
};
type Container = { name: string; securityContext?: Ctx; ports?: { hostPort?: number }[] };
type PodSpec = {
  hostNetwork?: boolean;
  hostPID?: boolean;
  hostIPC?: boolean;
  securityContext?: Ctx & { sysctls?: unknown[] };
  containers: Container[];
  initContainers?: Container[];
  ephemeralContainers?: Container[];
  volumes?: Record<string, unknown>[];
};

const RESTRICTED_VOLUMES = new Set([
  'configMap',
  'csi',
  'downwardAPI',
  'emptyDir',
  'ephemeral',
  'persistentVolumeClaim',
  'projected',
  'secret',
]);

/** Each way `spec` fails the restricted profile (baseline included), worded after the PSA messages. */
function restrictedViolations(spec: PodSpec): string[] {
  const out: string[] = [];
  const pod = spec.securityContext ?? {};
  if (spec.hostNetwork || spec.hostPID || spec.hostIPC) out.push('host namespaces');
  if ((pod.sysctls ?? []).length > 0) out.push('sysctls (only the safe set is allowed; none are needed)');
  for (const v of spec.volumes ?? []) {
    const type = Object.keys(v).find((k) => k !== 'name');
    if (!type || !RESTRICTED_VOLUMES.has(type)) out.push(`volume ${String(v.name)} of type ${type}`);
  }
  const all = [...spec.containers, ...(spec.initContainers ?? []), ...(spec.ephemeralContainers ?? [])];
  for (const c of all) {
    const ctx = c.securityContext ?? {};
    const bad = (what: string) => out.push(`container ${c.name}: ${what}`);
    if (ctx.privileged) bad('privileged');
    if (ctx.windowsOptions?.hostProcess || pod.windowsOptions?.hostProcess) bad('hostProcess');
    if (ctx.procMount !== undefined && ctx.procMount !== 'Default') bad('procMount');
    if ((c.ports ?? []).some((p) => p.hostPort)) bad('hostPort');
    if (ctx.allowPrivilegeEscalation !== false) bad('allowPrivilegeEscalation != false');
    const nonRoot = ctx.runAsNonRoot ?? pod.runAsNonRoot;
    if (nonRoot !== true) bad('runAsNonRoot != true');
    if ((ctx.runAsUser ?? pod.runAsUser) === 0) bad('runAsUser=0');
    const seccomp = ctx.seccompProfile?.type ?? pod.seccompProfile?.type;
    if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost') bad(`seccompProfile ${seccomp}`);
    if (!(ctx.capabilities?.drop ?? []).includes('ALL')) bad('capabilities not dropping ALL');
    for (const cap of ctx.capabilities?.add ?? []) if (cap !== 'NET_BIND_SERVICE') bad(`adds ${cap}`);
  }
  return out;
}

type Obj = {
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec?: { template?: { spec: PodSpec } };
};

describe('Pod Security Admission', () => {
  it.each([
    ['with a gateway (--ha)', withGateway],
    ['--no-gateway', noGateway],
    ['with every scheduling flag', scheduled],
  ])('every pod template %s meets the restricted profile', (_, opts) => {
    const templates = (installManifests(opts) as Obj[]).filter((o) => o.spec?.template);
    expect(templates.length).toBeGreaterThan(0);
    for (const o of templates) {
      expect(restrictedViolations(o.spec!.template!.spec), `${o.kind}/${o.metadata.name}`).toEqual([]);
    }
  });

  it('the checker sees what the restricted profile refuses', () => {
    const ok: Container = {
      name: 'c',
      securityContext: {
        runAsNonRoot: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
      },
    };
    const pod = (extra: Partial<PodSpec>, c: Container = ok): PodSpec => ({
      securityContext: { seccompProfile: { type: 'RuntimeDefault' } },
      containers: [c],
      ...extra,
    });
    expect(restrictedViolations(pod({}))).toEqual([]);
    expect(restrictedViolations(pod({ securityContext: {} }))).toEqual([
      'container c: seccompProfile undefined',
    ]);
    expect(restrictedViolations(pod({ volumes: [{ name: 'h', hostPath: { path: '/' } }] }))).toEqual([
      'volume h of type hostPath',
    ]);
    expect(
      restrictedViolations(
        pod({ initContainers: [{ name: 'init', securityContext: { runAsNonRoot: true } }] }),
      ),
    ).toEqual([
      'container init: allowPrivilegeEscalation != false',
      'container init: capabilities not dropping ALL',
    ]);
  });

  it('the install namespace enforces the restricted profile: its pods need nothing more', () => {
    for (const opts of [withGateway, noGateway]) {
      const ns = (installManifests(opts) as Obj[]).find((o) => o.kind === 'Namespace');
      expect(ns?.metadata.labels).toMatchObject({ 'pod-security.kubernetes.io/enforce': 'restricted' });
    }
  });

  it("runs every container as the image's own user and group, never in the root group", () => {
    // A runAsUser without runAsGroup runs the process with gid 0, whatever the image's USER says
    // (kubernetes/kubernetes#93666): the primary group would be root's.
    const user = /^USER (\d+):(\d+)$/m.exec(
      readFileSync(new URL('../../../Dockerfile', import.meta.url), 'utf8'),
    );
    expect(user).not.toBeNull();
    const [uid, gid] = [Number(user![1]), Number(user![2])];
    for (const o of (installManifests(withGateway) as Obj[]).filter((d) => d.spec?.template)) {
      const spec = o.spec!.template!.spec;
      for (const c of spec.containers) {
        const ctx = { ...spec.securityContext, ...c.securityContext };
        expect([ctx.runAsUser, ctx.runAsGroup], `${o.metadata.name}/${c.name}`).toEqual([uid, gid]);
      }
    }
  });
});

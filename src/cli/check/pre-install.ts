/**
 * `isthmus check --pre`: can this cluster take `isthmus install`, before anything is applied (as
 * `linkerd check --pre` does)? Facts are gathered once, each failed read becoming data; the checks
 * are pure functions of them.
 * - the API server's version (the install needs discovery.k8s.io/v1, policy/v1 and the
 *   PodDisruptionBudget's unhealthyPodEvictionPolicy, and is tested against what 1.27+ serves);
 * - whether the caller may create every kind the install applies (SelfSubjectAccessReview);
 * - whether the CRDs it installs are already there from another tool (Linkerd's SMI extension
 *   installs a TrafficSplit CRD), and whether `isthmus-system` exists already.
 */
import { describeError } from '../../errors.js';
import type { KubeClient } from '../../kube/client.js';
import { SYSTEM_NAMESPACE } from '../../kube/keys.js';
import { R } from '../../kube/resources.js';
import type { KubeObject } from '../../kube/types.js';
import { PART_OF, TRAFFIC_SPLIT_CRD } from '../install/options.js';
import { resourceOf } from '../lab/apply-objects.js';
import { REQUIRED_CRDS } from './checks/crds.js';
import { resultOf } from './checks/result.js';
import { deniedToSelf, describePermission } from './permissions.js';
import type { CheckResult, Fetched, Permission } from './types.js';

/** Every kind `isthmus install` renders (a test keeps this in step with the rendered manifests). */
export const INSTALL_KINDS = [
  'CustomResourceDefinition',
  'Namespace',
  'ServiceAccount',
  'ClusterRole',
  'ClusterRoleBinding',
  'Role',
  'RoleBinding',
  'ConfigMap',
  'Secret',
  'Service',
  'Deployment',
  'PodDisruptionBudget',
  'NetworkPolicy',
  'ValidatingAdmissionPolicy',
  'ValidatingAdmissionPolicyBinding',
] as const;

/** The install flags that render more kinds: `check --pre` takes the same ones. */
export interface OptInKinds {
  networkPolicy?: boolean;
  admissionPolicy?: boolean;
}

/** Kinds only an opt-in flag renders: `check --pre` asks about them with that flag only. */
export const OPTIONAL_INSTALL_KINDS: Readonly<Record<string, keyof OptInKinds>> = {
  NetworkPolicy: 'networkPolicy',
  ValidatingAdmissionPolicy: 'admissionPolicy',
  ValidatingAdmissionPolicyBinding: 'admissionPolicy',
};

/**
 * The install's PodDisruptionBudgets set `unhealthyPodEvictionPolicy` (KEP-3017): unknown to 1.25,
 * where kubectl's strict field validation refuses the apply, and alpha and off in 1.26, where the
 * API server drops it and a GitOps tool sees the object out of sync forever. Beta and on from 1.27.
 */
export const MIN_MINOR = 27;

export interface PreFacts {
  /** `gitVersion` of the API server. */
  version: Fetched<string>;
  /** What the caller may not create of INSTALL_KINDS. */
  deniedCreates: Fetched<Permission[]>;
  /** The install's CRDs that exist already, and whether an Isthmus install made them. */
  crds: Fetched<{ name: string; ours: boolean }[]>;
  namespaceExists: Fetched<boolean>;
}

async function fetched<T>(read: () => Promise<T>): Promise<Fetched<T>> {
  try {
    return { ok: true, value: await read() };
  } catch (err) {
    return { ok: false, error: describeError(err) };
  }
}

/**
 * One `create` per kind: in isthmus-system for namespaced kinds, cluster-wide for the others; the
 * opt-in kinds only when the install will render them (`check --pre --network-policy`,
 * `--admission-policy`).
 */
export function installCreates(opts: OptInKinds = {}): Permission[] {
  const wanted = (kind: string) => {
    const flag = OPTIONAL_INSTALL_KINDS[kind];
    return flag === undefined || opts[flag] === true;
  };
  return INSTALL_KINDS.filter(wanted).map((kind) => {
    const res = resourceOf({ kind } as KubeObject);
    return {
      serviceAccount: '(you)',
      verb: 'create',
      group: res.group,
      resource: res.plural,
      ...(res.namespaced ? { namespace: SYSTEM_NAMESPACE } : {}),
    };
  });
}

export async function gatherPreFacts(client: KubeClient, opts: OptInKinds = {}): Promise<PreFacts> {
  const version = fetched(async () => (await client.version()).gitVersion ?? '');
  const deniedCreates = fetched(() => deniedToSelf(client, installCreates(opts)));
  const crds = fetched(async () => {
    const found = await Promise.all(
      REQUIRED_CRDS.map((name) => client.get<KubeObject>(R.crds, undefined, name)),
    );
    return found.flatMap((crd, i) =>
      crd
        ? [
            {
              name: REQUIRED_CRDS[i]!,
              ours:
                crd.metadata?.labels?.['app.kubernetes.io/part-of'] === PART_OF['app.kubernetes.io/part-of'],
            },
          ]
        : [],
    );
  });
  const namespaceExists = fetched(
    async () => (await client.get(R.namespaces, undefined, SYSTEM_NAMESPACE)) !== undefined,
  );
  return {
    version: await version,
    deniedCreates: await deniedCreates,
    crds: await crds,
    namespaceExists: await namespaceExists,
  };
}

function failedRead(description: string, what: string, f: Fetched<unknown>): CheckResult | undefined {
  return f.ok ? undefined : resultOf(description, [`cannot read ${what}: ${f.error}`]);
}

export function checkVersion(f: PreFacts): CheckResult {
  const what = `the Kubernetes API is v1.${MIN_MINOR} or newer`;
  const blocked = failedRead(what, '/version', f.version);
  if (blocked || !f.version.ok) return blocked!;
  const m = /^v?(\d+)\.(\d+)/.exec(f.version.value);
  if (!m) return resultOf(what, [], [`cannot tell the version from "${f.version.value}"`]);
  const [major, minor] = [Number(m[1]), Number(m[2])];
  const old = major < 1 || (major === 1 && minor < MIN_MINOR);
  return resultOf(
    what,
    old ? [`the API server is ${f.version.value}; Isthmus needs v1.${MIN_MINOR} or newer`] : [],
  );
}

export function checkCreates(f: PreFacts): CheckResult {
  const what = 'you may create what `isthmus install` applies';
  const blocked = failedRead(what, 'your permissions (SelfSubjectAccessReview)', f.deniedCreates);
  if (blocked || !f.deniedCreates.ok) return blocked!;
  const denied = f.deniedCreates.value;
  return resultOf(
    what,
    denied.length > 0
      ? [`you may not ${denied.map(describePermission).join(', ')}: install as a cluster administrator`]
      : [],
  );
}

export function checkCrdsFree(f: PreFacts): CheckResult {
  const what = 'the Link and TrafficSplit CRDs are not owned by another tool';
  const blocked = failedRead(what, 'CustomResourceDefinitions', f.crds);
  if (blocked || !f.crds.ok) return blocked!;
  const foreign = f.crds.value.filter((c) => !c.ours);
  return resultOf(
    what,
    [],
    foreign.map((c) =>
      c.name === TRAFFIC_SPLIT_CRD
        ? `CRD ${c.name} exists and was not installed by Isthmus (Linkerd's SMI extension and linkerd-failover install it): install with --no-traffic-split-crd to leave it to its chart, or \`isthmus install\` replaces its schema`
        : `CRD ${c.name} exists and was not installed by Isthmus; \`isthmus install\` would replace its schema`,
    ),
  );
}

export function checkNamespaceFree(f: PreFacts): CheckResult {
  const what = `namespace ${SYSTEM_NAMESPACE} does not exist yet`;
  const blocked = failedRead(what, 'namespaces', f.namespaceExists);
  if (blocked || !f.namespaceExists.ok) return blocked!;
  return resultOf(
    what,
    [],
    f.namespaceExists.value
      ? [`${SYSTEM_NAMESPACE} exists: Isthmus may be installed already (\`isthmus check\` checks an install)`]
      : [],
  );
}

export const PRE_CHECKS = [checkVersion, checkCreates, checkCrdsFree, checkNamespaceFree] as const;

export function runPreChecks(f: PreFacts): CheckResult[] {
  return PRE_CHECKS.map((check) => check(f));
}

/** Facts for the check tests: a healthy two-way setup as the baseline, each case changing one thing. */
import type { V1Condition, V1Pod } from '../../kube/types.js';
import { LINK_GROUP, LINK_VERSION, type Link } from '../../kube/types.js';
import { VERSION } from '../../version.js';
import type { CheckFacts, LinkFacts, MirrorFacts } from './types.js';

type PodStatus = NonNullable<V1Pod['status']>;
type ContainerState = NonNullable<NonNullable<PodStatus['containerStatuses']>[number]['state']>;

type Cond = Pick<V1Condition, 'type' | 'status' | 'reason'> & { message?: string };

export const HEALTHY_CONDITIONS: Cond[] = [
  { type: 'Ready', status: 'True', reason: 'Synced', message: '1 services mirrored' },
  { type: 'RemoteAPIAvailable', status: 'True', reason: 'Connected', message: 'remote API reachable' },
  {
    type: 'GatewayAlive',
    status: 'True',
    reason: 'ProbeSucceeded',
    message: 'remote gateway answers probes',
  },
];

export function link(
  cluster: string,
  opts: { conditions?: Cond[]; spec?: Partial<Link['spec']>; gatewayAddresses?: string[] } = {},
): Link {
  return {
    apiVersion: `${LINK_GROUP}/${LINK_VERSION}`,
    kind: 'Link',
    metadata: { name: cluster, namespace: 'isthmus-system' },
    spec: {
      targetClusterName: cluster,
      clusterCredentialsSecret: `cluster-credentials-${cluster}`,
      gatewayAddress: '10.0.0.7',
      gatewayPort: 4143,
      gatewayIdentity: `spiffe://cluster.local/cluster/${cluster}/gateway`,
      ...opts.spec,
    },
    status: {
      conditions: (opts.conditions ?? HEALTHY_CONDITIONS).map((c) => ({
        ...c,
        message: c.message ?? '',
        lastTransitionTime: new Date(),
      })),
      mirroredServices: 1,
      ...(opts.gatewayAddresses ? { gatewayAddresses: opts.gatewayAddresses } : {}),
    },
  };
}

export function linkFacts(l: Link, chainPem: string[] = [], changes: Partial<LinkFacts> = {}): LinkFacts {
  return {
    link: l,
    remote: { ok: true, version: 'v1.31.0', services: 2 },
    gatewayChain: { ok: true, address: '10.0.0.7:4143', chainPem },
    ...changes,
  };
}

/**
 * What `isthmus check` gathers of one Link `l`, as the Link checks read it, outside the check's
 * own tests (scenarios of the controller): a controller leads, so the Lease, not read, leaves the
 * Link's status trusted.
 */
export function oneLinkFacts(l: Link): CheckFacts {
  const facts: Pick<
    CheckFacts,
    'now' | 'gatewayInstalled' | 'links' | 'controllerMayCreateNamespaces' | 'lease'
  > = {
    now: new Date(),
    gatewayInstalled: true,
    links: { ok: true, value: [linkFacts(l)] },
    controllerMayCreateNamespaces: { ok: true, value: false },
    lease: { ok: false, error: 'not read' },
  };
  return facts as CheckFacts;
}

export function mirror(name: string, cluster = 'west', ready = 1, endpoints = ready): MirrorFacts {
  return {
    namespace: 'test',
    name,
    cluster,
    endpoints,
    readyEndpoints: ready,
    egressPorts: [20000],
    listedPorts: [20000],
  };
}

/**
 * All checks pass on these (with `anchorPem`/`chainPem` from one PKI). Dated when built, not when
 * this module loaded: the test certificates are minted at run time, possibly by a later test file
 * sharing the module cache, and a `now` before their notBefore would make them not yet valid.
 */
export function healthyFacts(
  pki: { anchorPem: string; issuerPem: string; westChain: string[] },
  now = new Date(),
): CheckFacts {
  return {
    now,
    gatewayInstalled: true,
    installNamespace: { ok: true, value: 'active' },
    crds: {
      ok: true,
      value: { 'links.multicluster.isthmus.dev': true, 'trafficsplits.split.smi-spec.io': true },
    },
    links: { ok: true, value: [linkFacts(link('west'), pki.westChain)] },
    deniedPermissions: { ok: true, value: [] },
    controllerMayCreateNamespaces: { ok: true, value: false },
    endpointWriters: { ok: true, value: {} },
    gatewayListeners: {
      ok: true,
      value: [{ pod: 'isthmus-gateway-7d9f-abcde', ready: true, ports: [20000] }],
    },
    federated: { ok: true, value: [] },
    trafficSplits: { ok: true, value: [] },
    podVersions: {
      ok: true,
      value: ['controller', 'gateway', 'identity'].map((component) => ({
        component,
        pods: { [VERSION]: component === 'controller' ? 2 : 1 },
      })),
    },
    deployments: {
      ok: true,
      value: ['isthmus-identity', 'isthmus-gateway', 'isthmus-controller'].map((name) => ({
        name,
        replicas: 1,
        available: 1,
      })),
    },
    lease: {
      ok: true,
      value: {
        holder: 'controller-0',
        renewTime: new Date(now.getTime() - 2000).toISOString(),
        leaseDurationSeconds: 15,
      },
    },
    controllerPods: { ok: true, value: [] },
    mirrors: { ok: true, value: [mirror('podinfo-west')] },
    anchorPem: { ok: true, value: pki.anchorPem },
    issuerPem: { ok: true, value: pki.issuerPem },
    crlPem: { ok: true, value: undefined },
  };
}

/** An Isthmus pod (one container named after its component, as install renders it) with a kubelet's status. */
export function pod(name: string, status: PodStatus): V1Pod {
  const component = name.split('-')[1] ?? 'gateway';
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: 'isthmus-system',
      labels: { 'app.kubernetes.io/name': `isthmus-${component}`, 'app.kubernetes.io/part-of': 'isthmus' },
    },
    spec: {
      serviceAccountName: `isthmus-${component}`,
      containers: [{ name: component, image: 'registry.example.com/isthmus:0.1.0' }],
    },
    status: {
      ...status,
      ...(status.containerStatuses
        ? { containerStatuses: status.containerStatuses.map((c) => ({ ...c, name: component })) }
        : {}),
    },
  };
}

const SCHEDULED = { type: 'PodScheduled', status: 'True' };

/** A scheduled pod (10.x IP) whose one container is in `state`, unready. */
function started(
  phase: string,
  state: ContainerState,
  more: { lastState?: ContainerState; restartCount?: number } = {},
): PodStatus {
  return {
    phase,
    podIP: '10.244.1.7',
    podIPs: [{ ip: '10.244.1.7' }],
    hostIP: '10.0.0.21',
    conditions: [SCHEDULED, { type: 'Ready', status: 'False', reason: 'ContainersNotReady' }],
    containerStatuses: [
      {
        name: 'isthmus',
        image: 'registry.example.com/isthmus:0.1.0',
        imageID: '',
        ready: false,
        restartCount: more.restartCount ?? 0,
        state,
        ...(more.lastState ? { lastState: more.lastState } : {}),
      },
    ],
  };
}

/** Pod statuses as the scheduler and the kubelet write them, one per way a pod is not ready. */
export const podStatus = {
  pending: (): PodStatus => ({ phase: 'Pending' }),
  unschedulable: (message: string): PodStatus => ({
    phase: 'Pending',
    conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message }],
  }),
  waiting: (reason: string, message?: string): PodStatus =>
    started('Pending', { waiting: { reason, ...(message ? { message } : {}) } }),
  crashLooping: (terminated: { exitCode: number; reason: string }, restartCount = 4): PodStatus =>
    started(
      'Running',
      { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 1m20s restarting failed container' } },
      { lastState: { terminated: { ...terminated, containerID: '' } }, restartCount },
    ),
  running: (ready: boolean): PodStatus => {
    const s = started('Running', { running: { startedAt: new Date() } });
    if (ready) s.conditions = [SCHEDULED, { type: 'Ready', status: 'True' }];
    return s;
  },
};

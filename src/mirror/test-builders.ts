/** Small builders of the objects the mirror tests need (house style 6). Test-only. */
import {
  CLUSTER_NAME_LABEL,
  EXPORTED_LABEL,
  ISTHMUS_MIRROR_LABEL,
  MIRRORED_SERVICE_LABEL,
  REMOTE_RESOURCE_VERSION_ANNOTATION,
  REMOTE_SVC_FQ_NAME_ANNOTATION,
} from '../kube/keys.js';
import type { Link, V1Service } from '../kube/types.js';
import { type LinkConfig, parseLinkSpec } from './link-config.js';
import type { LinkState } from './link-status.js';

export function remoteService(
  name: string,
  opts: {
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ports?: { name?: string; port: number; protocol?: string }[];
    headless?: boolean;
    resourceVersion?: string;
    type?: string;
    /** false: without `mirror.linkerd.io/exported=true` (e.g. a federated member only). */
    exported?: boolean;
  } = {},
): V1Service {
  const svc: V1Service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name,
      namespace: opts.namespace ?? 'default',
      labels: { ...(opts.exported === false ? {} : { [EXPORTED_LABEL]: 'true' }), ...opts.labels },
      annotations: opts.annotations ?? {},
      resourceVersion: opts.resourceVersion ?? '1',
    },
    spec: {
      type: opts.type ?? 'ClusterIP',
      ports: (opts.ports ?? [{ name: 'http', port: 80 }]).map((p) => ({ protocol: 'TCP', ...p })),
    },
  };
  if (opts.headless) svc.spec!.clusterIP = 'None';
  return svc;
}

export function linkObject(cluster: string, spec: Partial<Link['spec']> = {}, name = cluster): Link {
  return {
    apiVersion: 'multicluster.isthmus.dev/v1alpha1',
    kind: 'Link',
    metadata: { name, namespace: 'isthmus-system' },
    spec: {
      targetClusterName: cluster,
      clusterCredentialsSecret: `cluster-credentials-${cluster}`,
      gatewayAddress: '10.1.0.1',
      ...spec,
    },
  };
}

export function linkConfig(cluster = 'west', spec: Partial<Link['spec']> = {}): LinkConfig {
  const parsed = parseLinkSpec(linkObject(cluster, spec));
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.config;
}

export function foreignService(name: string, namespace = 'default'): V1Service {
  return { metadata: { name, namespace, labels: { app: 'mine' } }, spec: { ports: [{ port: 80 }] } };
}

/**
 * A gateway mirror's Service as Linkerd's own service mirror writes it: our two labels, the remote's
 * name and version (its gateway identity goes on the mirror's Endpoints, not here).
 */
export function linkerdMirror(name: string, cluster: string, namespace = 'default'): V1Service {
  return {
    metadata: {
      name,
      namespace,
      labels: ourLabels(cluster, false),
      annotations: {
        [REMOTE_SVC_FQ_NAME_ANNOTATION]: `${name}.${namespace}.svc.cluster.local`,
        [REMOTE_RESOURCE_VERSION_ANNOTATION]: '4711',
      },
    },
    spec: { ports: [{ name: 'http', port: 80 }] },
  };
}

/** The labels of our mirror of `cluster`; `marked` false: the two Linkerd writes too, without our mark. */
export function ourLabels(cluster: string, marked = true): Record<string, string> {
  return {
    [MIRRORED_SERVICE_LABEL]: 'true',
    [CLUSTER_NAME_LABEL]: cluster,
    ...(marked ? { [ISTHMUS_MIRROR_LABEL]: cluster } : {}),
  };
}

/** What a watcher knows of a healthy Link: listed, every Service synced, its gateway alive. */
export function linkState(over: Partial<LinkState> = {}): LinkState {
  return {
    remoteSynced: true,
    remoteApiUp: true,
    gatewayAlive: true,
    gatewayAddresses: ['10.1.0.1'],
    mirrored: 2,
    problems: [],
    servicesUnsynced: 0,
    ...over,
  };
}

import { isIP } from 'node:net';
/** Small builders for failover tests: Services, EndpointSlices and TrafficSplits with realistic addresses. */
import {
  FAILOVER_CONTROLLED_BY_DEFAULT,
  FAILOVER_CONTROLLED_BY_LABEL,
  MANAGED_BY_LABEL,
  MANAGED_BY_MIRROR,
  SERVICE_NAME_LABEL,
} from '../kube/keys.js';
import type { TrafficSplit, V1EndpointSlice, V1Service } from '../kube/types.js';

/** The gateway pod the mirror controller lists in a mirror's slice (at the mirror's egress port). */
export const GATEWAY_POD = '10.0.0.5';
/** The pods of the local Service (a split's primary, a federation's local member). */
export const PRIMARY_PODS = ['10.1.0.7', '10.1.0.8'];

export function service(
  namespace: string,
  name: string,
  ports: { name?: string; port: number }[] = [{ name: 'http', port: 9898 }],
  selector?: Record<string, string>,
): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { namespace, name },
    spec: { ports: ports.map((p) => ({ ...p, protocol: 'TCP' })), ...(selector ? { selector } : {}) },
  };
}

/** A slice of `service` listing `ready`/`notReady` addresses on one named port. */
export function slice(
  namespace: string,
  serviceName: string,
  opts: {
    ready?: string[];
    notReady?: string[];
    port?: number;
    portName?: string;
    mirror?: boolean;
    name?: string;
  },
): V1EndpointSlice {
  const labels: Record<string, string> = { [SERVICE_NAME_LABEL]: serviceName };
  if (opts.mirror) labels[MANAGED_BY_LABEL] = MANAGED_BY_MIRROR;
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { namespace, name: opts.name ?? `${serviceName}-abc12`, labels },
    addressType: isIP([...(opts.ready ?? []), ...(opts.notReady ?? [])][0] ?? '') === 6 ? 'IPv6' : 'IPv4',
    ports: [{ name: opts.portName ?? 'http', port: opts.port ?? 9898, protocol: 'TCP' }],
    endpoints: [
      ...(opts.ready ?? []).map((a) => ({ addresses: [a], conditions: { ready: true } })),
      ...(opts.notReady ?? []).map((a) => ({ addresses: [a], conditions: { ready: false } })),
    ],
  };
}

export function trafficSplit(
  namespace: string,
  name: string,
  apex: string,
  backends: { service: string; weight: number | string }[],
  opts: { annotations?: Record<string, string>; labels?: Record<string, string> } = {},
): TrafficSplit {
  return {
    apiVersion: 'split.smi-spec.io/v1alpha2',
    kind: 'TrafficSplit',
    metadata: {
      namespace,
      name,
      labels: opts.labels ?? { [FAILOVER_CONTROLLED_BY_LABEL]: FAILOVER_CONTROLLED_BY_DEFAULT },
      annotations: opts.annotations ?? {},
    },
    spec: { service: apex, backends },
  };
}

/** `count` distinct pod IPs, `<prefix>.x.y` (10.x, as a pod network's), or `fd00:<n>::x` for an IPv6 prefix. */
export function podIPs(count: number, prefix = '10.1'): string[] {
  return Array.from({ length: count }, (_, i) =>
    prefix.includes(':')
      ? `${prefix}::${(i + 1).toString(16)}`
      : `${prefix}.${Math.floor(i / 250)}.${(i % 250) + 1}`,
  );
}

/**
 * A Service's ready pods as the EndpointSlice controller would list them, `perSlice` to a slice
 * (`<service>-0`, `<service>-1` …): a large backend written in few requests.
 */
export function podSlices(
  namespace: string,
  serviceName: string,
  ready: readonly string[],
  opts: { port?: number; perSlice?: number } = {},
): V1EndpointSlice[] {
  const perSlice = opts.perSlice ?? 750;
  return Array.from({ length: Math.ceil(ready.length / perSlice) }, (_, k) =>
    slice(namespace, serviceName, {
      name: `${serviceName}-${k}`,
      ready: ready.slice(k * perSlice, (k + 1) * perSlice),
      ...(opts.port === undefined ? {} : { port: opts.port }),
    }),
  );
}

/** linkerd-smi's TrafficSplit CRD as its chart ships it: v1alpha1 storage, no status subresource, no `status` in the schema. */
export const LINKERD_SMI_CRD = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'trafficsplits.split.smi-spec.io', labels: { 'linkerd.io/extension': 'smi' } },
  spec: {
    group: 'split.smi-spec.io',
    scope: 'Namespaced',
    conversion: { strategy: 'None' },
    names: {
      kind: 'TrafficSplit',
      listKind: 'TrafficSplitList',
      shortNames: ['ts'],
      plural: 'trafficsplits',
      singular: 'trafficsplit',
    },
    versions: ['v1alpha1', 'v1alpha2'].map((name) => ({
      name,
      served: true,
      storage: name === 'v1alpha1',
      schema: {
        openAPIV3Schema: {
          type: 'object',
          properties: {
            spec: {
              type: 'object',
              required: ['service', 'backends'],
              properties: {
                service: { type: 'string' },
                backends: {
                  type: 'array',
                  items: {
                    type: 'object',
                    required: ['service', 'weight'],
                    properties: {
                      service: { type: 'string' },
                      weight:
                        name === 'v1alpha1' ? { 'x-kubernetes-int-or-string': true } : { type: 'number' },
                    },
                  },
                },
              },
            },
          },
        },
      },
    })),
  },
};

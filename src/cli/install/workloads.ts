/**
 * The three Deployments (identity, gateway, controller), their Services and configuration.
 * Every process runs the same image and reads its settings from flags rendered here.
 */

import { GATEWAY_ENV } from '../../gateway/config.js';
import { GATEWAY_NODE_OPTIONS } from '../../gateway/process-flags.js';
import {
  CRL_CONFIGMAP,
  GATEWAY_SERVICE_NAME,
  IDENTITY_SERVICE_NAME,
  IDENTITY_TOKEN_AUDIENCE,
  ISSUER_SECRET,
  PORTS,
  TRUST_ANCHOR_CONFIGMAP,
} from '../../kube/keys.js';
import { VERSION_LABEL } from '../../version.js';
import { CONTROLLER_NODE_OPTIONS } from '../controller/process-flags.js';
import { gatewayDrainArgs, gatewayRolloutFields, gatewayTerminationGraceSeconds } from './gateway-drain.js';
import { exposureFields } from './gateway-exposure.js';
import { imageVersion } from './image-version.js';
import { componentLabels, type InstallOptions, PART_OF } from './options.js';
import type { Component } from './resources.js';
import { podSchedulingFields } from './scheduling.js';

/** Where the gateway's identity token is mounted: a projected token for the identity service only. */
const IDENTITY_TOKEN_DIR = '/var/run/secrets/isthmus.dev/identity';
/** The kubelet refreshes a projected token at 80 % of this (and kube-apiserver's minimum is 10 min). */
const IDENTITY_TOKEN_SECONDS = 3600;
const CRL_MOUNT = '/var/run/isthmus/crl';
/**
 * The CRL bundle, for the gateway (its peers, its identity service) and identity (its own serving
 * certificate). Optional and never rendered here: `isthmus certs revoke` says how to create it,
 * and re-applying the install must not empty it. Until it exists nothing is revoked.
 */
const crlVolume = () => ({ name: 'crl', configMap: { name: CRL_CONFIGMAP, optional: true } });

/** The image's `USER 65532:65532`: with runAsUser alone the process would run in group 0 (root). */
function podSecurity() {
  return {
    runAsNonRoot: true,
    runAsUser: 65532,
    runAsGroup: 65532,
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ['ALL'] },
  };
}

/**
 * Explicit timeouts: the kubelet's 1 s default is within reach of a Node event loop busy with TLS
 * handshakes or a GC pause, though nothing is wrong. Readiness waits up to its 2 s period, and 3
 * misses (~6 s) take the pod out of its Service. Liveness waits 5 s, since a restart cuts every
 * tunnel: 3 misses (~30 s) before a process that really hangs is killed.
 */
function probes(port: number | string) {
  return {
    livenessProbe: { httpGet: { path: '/live', port }, periodSeconds: 10, timeoutSeconds: 5 },
    readinessProbe: { httpGet: { path: '/ready', port }, periodSeconds: 2, timeoutSeconds: 2 },
  };
}

/**
 * Where Prometheus finds a pod's metrics: the `prometheus.io/*` annotations that the Prometheus
 * community chart's `kubernetes-pods` job (and many other setups) discover pods by.
 */
function scrapeAnnotations(port: number) {
  return {
    'prometheus.io/scrape': 'true',
    'prometheus.io/port': String(port),
    'prometheus.io/path': '/metrics',
  };
}

/** What some Deployments add to the pod besides their container. */
interface PodExtras {
  volumes?: object[];
  /** Extra pod spec fields. */
  spec?: object;
  annotations?: Record<string, string>;
  /** Extra Deployment spec fields. */
  deploymentSpec?: object;
}

function deployment(
  opts: InstallOptions,
  component: Component,
  replicas: number,
  container: object,
  { volumes = [], spec = {}, annotations = {}, deploymentSpec = {} }: PodExtras = {},
) {
  // The version the image says, on the pods too, where `isthmus version` reads what each one runs;
  // never in the selector, which is immutable and must match the pods of every version mid-upgrade.
  const version = imageVersion(opts.image);
  const labels: Record<string, string> = {
    ...componentLabels(component),
    ...(version ? { [VERSION_LABEL]: version } : {}),
  };
  const selector = { matchLabels: { 'app.kubernetes.io/name': labels['app.kubernetes.io/name'] } };
  // Replicas in different zones and on different nodes when the scheduler can, so one zone's or
  // node's loss or drain takes one. Both keys: a pod with constraints of its own no longer gets the
  // scheduler's default ones, which spread over zones too.
  const spread =
    replicas > 1
      ? {
          topologySpreadConstraints: ['topology.kubernetes.io/zone', 'kubernetes.io/hostname'].map(
            (topologyKey) => ({
              maxSkew: 1,
              topologyKey,
              whenUnsatisfiable: 'ScheduleAnyway',
              labelSelector: selector,
            }),
          ),
        }
      : {};
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: `isthmus-${component}`, namespace: opts.namespace, labels },
    spec: {
      replicas,
      selector,
      ...deploymentSpec,
      template: {
        metadata: {
          labels,
          ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
        },
        spec: {
          serviceAccountName: `isthmus-${component}`,
          ...podSchedulingFields(opts.scheduling, component),
          securityContext: { seccompProfile: { type: 'RuntimeDefault' } },
          containers: [
            {
              name: component,
              image: opts.image,
              imagePullPolicy: opts.imagePullPolicy,
              securityContext: podSecurity(),
              resources: opts.resources[component],
              ...container,
            },
          ],
          ...(volumes.length > 0 ? { volumes } : {}),
          ...spread,
          ...spec,
        },
      },
    },
  };
}

/**
 * With two replicas or more, voluntary evictions (node drains, cluster upgrades) take one at a
 * time. None for a single replica: a budget that forbids its only eviction blocks every drain.
 * A running pod that is not ready protects nothing, so it may always go (the default would keep
 * every drain waiting while all replicas are unready: a crash loop, an identity service down).
 */
function disruptionBudget(opts: InstallOptions, component: string, replicas: number): object[] {
  if (replicas < 2) return [];
  const labels = componentLabels(component);
  return [
    {
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: { name: `isthmus-${component}`, namespace: opts.namespace, labels },
      spec: {
        maxUnavailable: 1,
        selector: { matchLabels: { 'app.kubernetes.io/name': labels['app.kubernetes.io/name'] } },
        unhealthyPodEvictionPolicy: 'AlwaysAllow',
      },
    },
  ];
}

function service(opts: InstallOptions, name: string, component: string, ports: object[], type = 'ClusterIP') {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: opts.namespace, labels: componentLabels(component) },
    spec: {
      type,
      selector: { 'app.kubernetes.io/name': `isthmus-${component}` },
      ports,
    },
  };
}

/** The gateway's LoadBalancer (or NodePort, or ClusterIP) Service, with the cloud settings the install was given. */
function gatewayService(opts: InstallOptions) {
  const { nodePort } = opts.gatewayExposure;
  const ingress = {
    name: 'ingress',
    port: PORTS.ingress,
    targetPort: 'ingress',
    ...(nodePort ? { nodePort } : {}),
  };
  const base = service(opts, GATEWAY_SERVICE_NAME, 'gateway', [ingress], opts.gatewayServiceType);
  const { annotations, spec } = exposureFields(opts.gatewayExposure);
  return {
    ...base,
    metadata: { ...base.metadata, ...(annotations ? { annotations } : {}) },
    spec: { ...base.spec, ...spec },
  };
}

/**
 * The gateway's admin Service. Its slices are how the ingress knows every gateway pod's addresses,
 * which it never dials (src/gateway/watch-exports.ts, GATEWAY_SERVICES): dual-stack where the cluster
 * is, so they list each pod's every family, not one (kube-apiserver gives a PreferDualStack Service
 * the one family of a single-stack cluster). The LoadBalancer Service selects the same pods and
 * keeps the default: its families are what the cloud exposes.
 */
function gatewayAdminService(opts: InstallOptions) {
  const base = service(opts, `${GATEWAY_SERVICE_NAME}-admin`, 'gateway', [
    { name: 'admin', port: PORTS.admin, targetPort: 'admin' },
  ]);
  return { ...base, spec: { ...base.spec, ipFamilyPolicy: 'PreferDualStack' } };
}

// Each part gets only the identity flags it acts on: the controller needs no domain, identity
// signs SPIFFE IDs in the trust domain and names its Service's DNS names in its serving
// certificate, the gateway also checks :authority against the DNS domain.
const clusterArg = (opts: InstallOptions) => `--cluster=${opts.clusterName}`;
const trustDomainArg = (opts: InstallOptions) => `--trust-domain=${opts.trustDomain}`;

export function identityManifests(opts: InstallOptions, trustAnchorPem: string): object[] {
  return [
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: TRUST_ANCHOR_CONFIGMAP, namespace: opts.namespace, labels: { ...PART_OF } },
      data: { 'ca.crt': trustAnchorPem },
    },
    ...(opts.issuerCertPem && opts.issuerKeyPem
      ? [
          {
            apiVersion: 'v1',
            kind: 'Secret',
            type: 'kubernetes.io/tls',
            metadata: { name: ISSUER_SECRET, namespace: opts.namespace, labels: { ...PART_OF } },
            stringData: { 'tls.crt': opts.issuerCertPem, 'tls.key': opts.issuerKeyPem },
          },
        ]
      : []),
    deployment(
      opts,
      'identity',
      opts.identityReplicas,
      {
        args: [
          'identity',
          clusterArg(opts),
          trustDomainArg(opts),
          '--in-cluster',
          `--listen=:${PORTS.identity}`,
          `--health-listen=:${PORTS.identityHealth}`,
          `--admin-listen=:${PORTS.identityAdmin}`,
          // The Service's names, which its serving certificate holds beside its SPIFFE ID.
          `--service-name=${IDENTITY_SERVICE_NAME}`,
          `--service-namespace=${opts.namespace}`,
          `--cluster-domain=${opts.clusterDomain}`,
          '--issuer-cert=/var/run/isthmus/issuer/tls.crt',
          '--issuer-key=/var/run/isthmus/issuer/tls.key',
          '--trust-anchor=/var/run/isthmus/anchor/ca.crt',
          // The gateways' CRL: a serving certificate it revokes is replaced at once.
          `--crl-file=${CRL_MOUNT}/crl.pem`,
        ],
        ports: [
          { name: 'grpc', containerPort: PORTS.identity },
          { name: 'health', containerPort: PORTS.identityHealth },
          // /metrics, named as the other components' (README's PodMonitor selects the port by name).
          { name: 'admin', containerPort: PORTS.identityAdmin },
        ],
        volumeMounts: [
          { name: 'issuer', mountPath: '/var/run/isthmus/issuer', readOnly: true },
          { name: 'anchor', mountPath: '/var/run/isthmus/anchor', readOnly: true },
          { name: 'crl', mountPath: CRL_MOUNT, readOnly: true },
        ],
        // On the plaintext health port: the kubelet's gRPC probes speak no TLS, and Certify (:8080)
        // is TLS only. Health answers SERVING whenever the server can answer at all, so liveness
        // only catches a hung process; 6 misses 20 s apart (~2 min) spare one slow while it signs.
        livenessProbe: {
          grpc: { port: PORTS.identityHealth },
          periodSeconds: 20,
          timeoutSeconds: 5,
          failureThreshold: 6,
        },
        readinessProbe: { grpc: { port: PORTS.identityHealth }, periodSeconds: 5, timeoutSeconds: 3 },
      },
      {
        volumes: [
          { name: 'issuer', secret: { secretName: ISSUER_SECRET } },
          { name: 'anchor', configMap: { name: TRUST_ANCHOR_CONFIGMAP } },
          crlVolume(),
        ],
        annotations: scrapeAnnotations(PORTS.identityAdmin),
      },
    ),
    ...disruptionBudget(opts, 'identity', opts.identityReplicas),
    service(opts, IDENTITY_SERVICE_NAME, 'identity', [
      { name: 'grpc', port: PORTS.identity, targetPort: 'grpc' },
    ]),
  ];
}

export function gatewayManifests(opts: InstallOptions): object[] {
  const identity = `${IDENTITY_SERVICE_NAME}.${opts.namespace}.svc.${opts.clusterDomain}:${PORTS.identity}`;
  return [
    deployment(
      opts,
      'gateway',
      opts.gatewayReplicas,
      {
        args: [
          'gateway',
          clusterArg(opts),
          trustDomainArg(opts),
          `--cluster-domain=${opts.clusterDomain}`,
          '--in-cluster',
          `--identity-address=${identity}`,
          `--token-file=${IDENTITY_TOKEN_DIR}/token`,
          `--ingress-port=${PORTS.ingress}`,
          `--admin-port=${PORTS.admin}`,
          '--ca-file=/var/run/isthmus/anchor/ca.crt',
          `--crl-file=${CRL_MOUNT}/crl.pem`,
          // Admitted besides the targets of this cluster's Links: clusters that consume its exports.
          ...opts.allowClusters.map((c) => `--allow-cluster=${c}`),
          // Only live Pods' IPs of the Service's namespace are dialled (CVE-2021-25740).
          ...(opts.gatewayDialPodIPsOnly ? ['--dial-pod-ips-only'] : []),
          // The controller's range: the gateway routes no mirror claiming a port outside it.
          `--egress-port-range=${opts.egressPortRange.first}-${opts.egressPortRange.last}`,
          // SIGTERM (rolling update, node drain): unready but serving while endpoints and load
          // balancers catch up, then open tunnels get the rest of the grace before they are cut.
          ...gatewayDrainArgs(opts.gatewayDrain),
        ],
        volumeMounts: [
          { name: 'anchor', mountPath: '/var/run/isthmus/anchor', readOnly: true },
          { name: 'crl', mountPath: CRL_MOUNT, readOnly: true },
          { name: 'identity-token', mountPath: IDENTITY_TOKEN_DIR, readOnly: true },
        ],
        // Every listener binds all of the pod's addresses (IPv4 and IPv6): mirror EndpointSlices
        // point at the family of the gateway Service's slices, which need not be the pod's primary.
        env: [
          // V8 sizes its heap before our code runs, so the gateway's flags travel in NODE_OPTIONS.
          { name: 'NODE_OPTIONS', value: GATEWAY_NODE_OPTIONS },
          // The addresses the mirrors' EndpointSlices list this pod at (every family: they are of
          // the cluster's, which need not be the pod's primary): on SIGTERM the egress listeners
          // stay open until no slice lists them.
          { name: GATEWAY_ENV.podIp, valueFrom: { fieldRef: { fieldPath: 'status.podIPs' } } },
        ],
        ports: [
          { name: 'ingress', containerPort: PORTS.ingress },
          { name: 'admin', containerPort: PORTS.admin },
        ],
        ...probes('admin'),
      },
      {
        volumes: [
          { name: 'anchor', configMap: { name: TRUST_ANCHOR_CONFIGMAP } },
          crlVolume(),
          // Bound to the identity service's audience: the API server refuses it, and the identity
          // service refuses the account's API tokens (Linkerd's identity.l5d.io, the same way).
          {
            name: 'identity-token',
            projected: {
              sources: [
                {
                  serviceAccountToken: {
                    audience: IDENTITY_TOKEN_AUDIENCE,
                    expirationSeconds: IDENTITY_TOKEN_SECONDS,
                    path: 'token',
                  },
                },
              ],
            },
          },
        ],
        // Room for the drain, then a clean stop, before the kubelet's SIGKILL.
        spec: { terminationGracePeriodSeconds: gatewayTerminationGraceSeconds(opts.gatewayDrain) },
        // A new replica counts as available only once a load balancer has had time to register it.
        ...(opts.gatewayDrain.minReadySeconds > 0
          ? { deploymentSpec: gatewayRolloutFields(opts.gatewayDrain) }
          : {}),
        annotations: scrapeAnnotations(PORTS.admin),
      },
    ),
    ...disruptionBudget(opts, 'gateway', opts.gatewayReplicas),
    gatewayService(opts),
    gatewayAdminService(opts),
  ];
}

export function controllerManifests(opts: InstallOptions): object[] {
  const admin = `http://${GATEWAY_SERVICE_NAME}-admin.${opts.namespace}.svc.${opts.clusterDomain}:${PORTS.admin}`;
  return [
    deployment(
      opts,
      'controller',
      opts.controllerReplicas,
      {
        args: [
          'controller',
          clusterArg(opts),
          '--in-cluster',
          ...(opts.gateway
            ? [
                `--gateway-admin=${admin}`,
                `--egress-port-range=${opts.egressPortRange.first}-${opts.egressPortRange.last}`,
              ]
            : ['--no-gateway']),
          `--failover-controlled-by=${opts.failoverControlledBy}`,
          `--admin-port=${PORTS.admin}`,
        ],
        env: [
          { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
          { name: 'NODE_OPTIONS', value: CONTROLLER_NODE_OPTIONS },
        ],
        ports: [{ name: 'admin', containerPort: PORTS.admin }],
        ...probes('admin'),
      },
      { annotations: scrapeAnnotations(PORTS.admin) },
    ),
    ...disruptionBudget(opts, 'controller', opts.controllerReplicas),
  ];
}

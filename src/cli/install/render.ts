/**
 * `isthmus install`: every manifest for one cluster, as one multi-document YAML stream for
 * `kubectl apply -f -`. Pure: the CLI reads the certificate files and hands their text in.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { INSTALL_CLUSTER_NAME_LABEL, INSTALL_GATEWAY_LABEL } from '../../kube/keys.js';
import { VERSION } from '../../version.js';
import { toYamlStream } from '../kube-yaml.js';
import { admissionPolicyManifests } from './admission-policy.js';
import {
  INSTALL_RECORD_CONFIGMAP,
  installRecordManifest,
  type ObjectRef,
  objectLine,
} from './install-record.js';
import { networkPolicyManifests } from './network-policy.js';
import { type InstallOptions, PART_OF, TRAFFIC_SPLIT_CRD } from './options.js';
import { rbacManifests } from './rbac.js';
import { controllerManifests, gatewayManifests, identityManifests } from './workloads.js';

/**
 * Pod Security Admission's strictest profile for the install namespace: no part of Isthmus needs a
 * sidecar, init container or host access (Linkerd's namespace must be `privileged` for linkerd-init
 * without its CNI plugin; ours need not be), so a pod that ever asks for more is refused.
 */
export const POD_SECURITY_LABELS = { 'pod-security.kubernetes.io/enforce': 'restricted' } as const;

const CRD_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'manifests', 'crds');

/** The CRDs exactly as the sandbox serves them: one source of truth in manifests/crds. */
export function crdManifests(): object[] {
  return readdirSync(CRD_DIR)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => parse(readFileSync(join(CRD_DIR, f), 'utf8')) as object);
}

export function installManifests(opts: InstallOptions): object[] {
  const objects = renderedObjects(opts);
  if (!opts.recordedFlags) return objects;
  const self = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: INSTALL_RECORD_CONFIGMAP, namespace: opts.namespace },
  };
  const lines = [
    ...new Set([...[...(objects as ObjectRef[]), self].map(objectLine), ...(opts.leftoverObjects ?? [])]),
  ];
  return [
    ...objects,
    installRecordManifest(opts.namespace, { version: VERSION, flags: opts.recordedFlags, objects: lines }),
  ];
}

function renderedObjects(opts: InstallOptions): object[] {
  return [
    {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {
        name: opts.namespace,
        labels: {
          ...PART_OF,
          ...POD_SECURITY_LABELS,
          [INSTALL_CLUSTER_NAME_LABEL]: opts.clusterName,
          ...(opts.gateway ? {} : { [INSTALL_GATEWAY_LABEL]: 'false' }),
        },
      },
    },
    ...crdManifests().filter(
      (crd) => opts.trafficSplitCrd || (crd as ObjectRef).metadata?.name !== TRAFFIC_SPLIT_CRD,
    ),
    ...rbacManifests(opts),
    ...(opts.gateway && opts.trustAnchorPem !== undefined
      ? [...identityManifests(opts, opts.trustAnchorPem), ...gatewayManifests(opts)]
      : []),
    ...controllerManifests(opts),
    ...networkPolicyManifests(opts),
    ...admissionPolicyManifests(opts),
  ];
}

export function renderInstall(opts: InstallOptions): string {
  return `# Isthmus for cluster ${opts.clusterName}: isthmus install ... | kubectl apply -f -\n${toYamlStream(
    installManifests(opts),
  )}`;
}

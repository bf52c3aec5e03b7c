/**
 * Puts one lab cluster in the state a real cluster reaches after `isthmus install | kubectl apply`:
 * the same rendered manifests are applied, and the lab plays the parts a real cluster's own
 * controllers would — the cloud controller (the gateway's LoadBalancer address) here, the token
 * controller (done by the sandbox); the EndpointSlice controller (lab-endpointslices.ts) and the
 * kubelet (system-kubelet.ts) give the isthmus Services their endpoints from the pods.
 */
import { IsthmusError } from '../../errors.js';
import type { KubeClient } from '../../kube/client.js';
import { GATEWAY_SERVICE_NAME, SYSTEM_NAMESPACE } from '../../kube/keys.js';
import { R } from '../../kube/resources.js';
import type { V1Secret } from '../../kube/types.js';
import { INSTALL_DEFAULTS, type InstallOptions } from '../install/options.js';
import { installManifests } from '../install/render.js';
import { applyObjects } from './apply-objects.js';
import type { LabCluster } from './topology.js';

/** What `isthmus lab up` flags change in the install (`--gateway-dial-pod-ips-only`, `--trust-domain`). */
export interface LabInstallFlags {
  gatewayDialPodIPsOnly?: boolean;
  /** The lab's certificates' trust domain: its processes run with the install's `--trust-domain`. */
  trustDomain?: string;
}

export function labInstallOptions(
  cluster: LabCluster,
  certs: { anchorPem: string; issuerCertPem: string; issuerKeyPem: string },
  flags: LabInstallFlags = {},
): InstallOptions {
  const podIPsOnly = flags.gatewayDialPodIPsOnly === true;
  const trustDomain = flags.trustDomain ?? INSTALL_DEFAULTS.trustDomain;
  return {
    ...INSTALL_DEFAULTS,
    egressPortRange: { ...INSTALL_DEFAULTS.egressPortRange },
    clusterName: cluster.name,
    trustDomain,
    trustAnchorPem: certs.anchorPem,
    issuerCertPem: certs.issuerCertPem,
    issuerKeyPem: certs.issuerKeyPem,
    controllerReplicas: 1,
    gatewayDialPodIPsOnly: podIPsOnly,
    // What `isthmus install` would record for these options, so `isthmus upgrade` works in the lab.
    recordedFlags: {
      'cluster-name': cluster.name,
      'controller-replicas': '1',
      ...(podIPsOnly ? { 'gateway-dial-pod-ips-only': true as const } : {}),
      ...(trustDomain === INSTALL_DEFAULTS.trustDomain ? {} : { 'trust-domain': trustDomain }),
    },
  };
}

/** A service-account token Secret, as `kubectl create token` would hand out for a pod. */
function tokenSecret(serviceAccount: string): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'kubernetes.io/service-account-token',
    metadata: {
      name: `${serviceAccount}-lab-token`,
      namespace: SYSTEM_NAMESPACE,
      annotations: { 'kubernetes.io/service-account.name': serviceAccount },
    },
  };
}

/** Reads the token the sandbox's token controller wrote, waiting for it with a deadline. */
export async function serviceAccountToken(
  client: KubeClient,
  serviceAccount: string,
  timeoutMs = 5000,
): Promise<string> {
  const secret = tokenSecret(serviceAccount);
  await applyObjects(client, [secret]);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = await client.get<V1Secret>(R.secrets, SYSTEM_NAMESPACE, secret.metadata!.name!);
    const token = got?.data?.token;
    if (token) return Buffer.from(token, 'base64').toString('utf8');
    if (Date.now() > deadline) {
      throw new IsthmusError(
        'KUBE_REQUEST_FAILED',
        `no token was issued for service account ${serviceAccount}`,
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function bootstrapCluster(
  client: KubeClient,
  cluster: LabCluster,
  opts: InstallOptions,
): Promise<void> {
  await applyObjects(client, installManifests(opts));
  await client.patchStatus(
    R.services,
    SYSTEM_NAMESPACE,
    GATEWAY_SERVICE_NAME,
    { status: { loadBalancer: { ingress: [{ ip: cluster.gateway.host }] } } },
    'merge',
  );
}

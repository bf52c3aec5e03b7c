/**
 * `isthmus link`: what the local cluster needs to mirror a remote one — a credentials Secret (a
 * kubeconfig with the remote's read-only `isthmus-remote-access` token), the `Link`, and a Role
 * letting the controller read that one Secret. Pure: the
 * command gathers the facts from the remote API and hands them in.
 */
import { readFileSync } from 'node:fs';
import { IsthmusError } from '../../errors.js';
import {
  gatewayIdentity,
  INSTALL_CLUSTER_NAME_LABEL,
  INSTALL_GATEWAY_LABEL,
  LINK_SERVICE_ACCOUNT_ANNOTATION,
  PORTS,
  REMOTE_ACCESS_SERVICE_ACCOUNT,
  REMOTE_KUBECONFIG_KEY,
  REMOTE_KUBECONFIG_SECRET_TYPE,
  SYSTEM_NAMESPACE,
} from '../../kube/keys.js';
import type { Link, V1Namespace, V1Secret, V1Service } from '../../kube/types.js';
import { parseLinkSpec } from '../../mirror/link-config.js';
import { remoteIdentity } from '../../mirror/remote-identity.js';
import { LINK_LABEL } from '../install/options.js';
import { linkCredentialsAccess } from '../install/rbac.js';
import { kubeYaml, toYamlStream } from '../kube-yaml.js';
import type { LinkSpecOptions } from './options.js';

export interface RemoteFacts {
  clusterName: string;
  trustDomain: string;
  clusterDomain: string;
  /** API server URL reachable from the local cluster, and its CA (base64 PEM) if TLS. */
  apiServer: string;
  caData?: string;
  /** The name the remote API server's certificate is checked against, when not the server's host. */
  tlsServerName?: string;
  /** The context skips verifying the remote API server's certificate (and has no CA to verify it with). */
  insecureSkipTlsVerify?: boolean;
  token: string;
  /** The remote ServiceAccount the token is of, recorded on the Link (absent: not recorded). */
  serviceAccount?: string;
  /** Absent: a Link without a gateway (`isthmus link --no-gateway`). */
  gateway?: { addresses: string[]; port: number };
  /** What the user set by flag (isthmus link --selector …); the rest keeps the CRD defaults. */
  options?: LinkSpecOptions;
}

export function credentialsSecretName(cluster: string): string {
  return `cluster-credentials-${cluster}`;
}

/** A kubeconfig for one remote cluster, holding only the read-only token. */
export function remoteKubeconfig(f: RemoteFacts): string {
  return kubeYaml({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: f.clusterName,
        cluster: {
          server: f.apiServer,
          ...(f.caData ? { 'certificate-authority-data': f.caData } : {}),
          ...(f.tlsServerName ? { 'tls-server-name': f.tlsServerName } : {}),
          ...(f.insecureSkipTlsVerify && !f.caData ? { 'insecure-skip-tls-verify': true } : {}),
        },
      },
    ],
    users: [{ name: 'isthmus-remote-access', user: { token: f.token } }],
    contexts: [{ name: f.clusterName, context: { cluster: f.clusterName, user: 'isthmus-remote-access' } }],
    'current-context': f.clusterName,
  });
}

export function linkManifests(f: RemoteFacts): [V1Secret, Link, ...object[]] {
  const secretName = credentialsSecretName(f.clusterName);
  const { probe, ...options } = f.options ?? {};
  const manifests: [V1Secret, Link, ...object[]] = [
    {
      apiVersion: 'v1',
      kind: 'Secret',
      type: REMOTE_KUBECONFIG_SECRET_TYPE,
      metadata: {
        name: secretName,
        namespace: SYSTEM_NAMESPACE,
        labels: { 'app.kubernetes.io/part-of': 'isthmus', [LINK_LABEL]: f.clusterName },
      },
      data: { [REMOTE_KUBECONFIG_KEY]: Buffer.from(remoteKubeconfig(f)).toString('base64') },
    },
    {
      apiVersion: 'multicluster.isthmus.dev/v1alpha1',
      kind: 'Link',
      metadata: {
        name: f.clusterName,
        namespace: SYSTEM_NAMESPACE,
        // Outlives the Secret: a re-link after it is lost must keep the account (isthmus check says so).
        ...(f.serviceAccount ? { annotations: { [LINK_SERVICE_ACCOUNT_ANNOTATION]: f.serviceAccount } } : {}),
      },
      spec: {
        targetClusterName: f.clusterName,
        targetClusterDomain: f.clusterDomain,
        clusterCredentialsSecret: secretName,
        ...(f.gateway
          ? {
              gatewayAddress: f.gateway.addresses.join(','),
              gatewayPort: f.gateway.port,
              gatewayIdentity: gatewayIdentity(f.trustDomain, f.clusterName),
              probeSpec: {
                path: '/ready',
                port: PORTS.admin,
                period: '3s',
                timeout: '2s',
                failureThreshold: 3,
                ...probe,
              },
            }
          : {}),
        ...options,
      },
    },
    ...linkCredentialsAccess(f.clusterName, secretName, SYSTEM_NAMESPACE),
  ];
  // The controller's own validation: never print a Link it would only mark invalid.
  const parsed = parseLinkSpec(manifests[1]);
  if (!parsed.ok)
    throw new IsthmusError('LINK_INVALID', `the Link would be invalid: ${parsed.reason}`, { terminal: true });
  return manifests;
}

/**
 * The manifests in the order to apply them: the Link last, so that the Role and RoleBinding that let
 * the controller read its Secret exist when the controller first sees it (in the order of
 * linkManifests it met a 403, logged a warning and counted a sync error at every new link).
 */
export function linkManifestsInApplyOrder(f: RemoteFacts): object[] {
  const [secret, link, ...access] = linkManifests(f);
  return [secret, ...access, link];
}

export function renderLink(f: RemoteFacts): string {
  return `# Link to cluster ${f.clusterName}: isthmus link ... | kubectl --context <local> apply -f -\n${toYamlStream(
    linkManifestsInApplyOrder(f),
  )}`;
}

/**
 * `--cluster-name` against the name the remote install gave itself (its namespace's label). A
 * mismatch is the mark of a wrong `--context`: applied, that Link would replace the good one of
 * that name, pointing the local cluster at the wrong API (itself, often) and deleting its mirrors.
 * Throws on a mismatch; returns a note when the namespace could not be read (403). An install that
 * predates the label, or no namespace at all (reported later), cannot say, so passes.
 */
export function checkRemoteClusterName(
  namespace: V1Namespace | 'forbidden' | undefined,
  context: string,
  cluster: string,
): string | undefined {
  // The controller checks every connection by the same rule (src/mirror/remote-identity.ts).
  const identity = remoteIdentity(namespace, cluster);
  if (identity.verdict === 'unknown' && identity.why === 'forbidden') {
    return `could not read namespace ${SYSTEM_NAMESPACE} behind context ${JSON.stringify(context)} (forbidden), so --cluster-name ${cluster} was not checked against the name the remote was installed with`;
  }
  if (identity.verdict !== 'mismatch') return undefined;
  const { installed } = identity;
  throw new IsthmusError(
    'LINK_INVALID',
    `the cluster behind context ${JSON.stringify(context)} is installed as ${JSON.stringify(installed)} ` +
      `(label ${INSTALL_CLUSTER_NAME_LABEL} on namespace ${SYSTEM_NAMESPACE}), not ${JSON.stringify(cluster)}: was --context wrong?`,
    { terminal: true },
  );
}

/**
 * A cluster installed with `--no-gateway` (its namespace says so) has nothing to tunnel to: a Link
 * to it is made with `--no-gateway`, whatever addresses are given.
 */
export function refuseLinkWithoutRemoteGateway(namespace: V1Namespace | undefined, cluster: string): void {
  if (namespace?.metadata?.labels?.[INSTALL_GATEWAY_LABEL] !== 'false') return;
  throw new IsthmusError(
    'LINK_INVALID',
    `cluster ${cluster} was installed without a gateway (isthmus install --no-gateway): link with --no-gateway, which mirrors its remote-discovery Services and federated members as their pods`,
    { terminal: true },
  );
}

/** The gateway's externally reachable addresses: LoadBalancer ingress IPs or hostnames. */
export function gatewayAddressesOf(
  svc: V1Service | undefined,
  cluster: string,
): { addresses: string[]; port: number } {
  if (!svc) {
    throw new IsthmusError(
      'LINK_INVALID',
      `cluster ${cluster} has no Service ${SYSTEM_NAMESPACE}/isthmus-gateway: run "isthmus install" there first`,
      { terminal: true },
    );
  }
  const addresses = (svc.status?.loadBalancer?.ingress ?? [])
    .map((i) => i.ip ?? i.hostname)
    .filter((a): a is string => typeof a === 'string' && a !== '');
  if (addresses.length === 0 && svc.spec?.type === 'ClusterIP') {
    throw new IsthmusError(
      'LINK_INVALID',
      `the gateway Service of cluster ${cluster} is ClusterIP (installed with --gateway-service-type ClusterIP), so no other cluster can reach it: ` +
        'link with --no-gateway (a flat pod network), or pass --gateway-addresses of your own exposure',
      { terminal: true },
    );
  }
  if (addresses.length === 0 && svc.spec?.type === 'NodePort') {
    // No load balancer will ever come: the addresses are the nodes', which only the user knows.
    throw new IsthmusError(
      'LINK_INVALID',
      `the gateway Service of cluster ${cluster} is NodePort (installed with --gateway-service-type NodePort), so it has no LoadBalancer address: ` +
        'pass --gateway-addresses with addresses of its nodes (the Link dials its nodePort)',
      { terminal: true },
    );
  }
  if (addresses.length === 0) {
    throw new IsthmusError(
      'LINK_INVALID',
      `the gateway Service of cluster ${cluster} has no LoadBalancer address yet (status.loadBalancer.ingress is empty); ` +
        'wait for the load balancer, or pass --gateway-addresses',
      { terminal: true },
    );
  }
  return { addresses, port: gatewayPortOf(svc) };
}

/**
 * The port peers dial: the ingress port behind a load balancer, its nodePort when the gateway is
 * exposed as a NodePort Service (then `--gateway-addresses` names the nodes).
 */
export function gatewayPortOf(svc: V1Service | undefined): number {
  const ingress = svc?.spec?.ports?.find((p) => p.name === 'ingress');
  if (svc?.spec?.type === 'NodePort' && ingress?.nodePort) return ingress.nodePort;
  return ingress?.port ?? PORTS.ingress;
}

/**
 * How the remote context verifies its API server, for the credentials to do the same: the CA as
 * base64 PEM (inline or read from the file the kubeconfig names), `tls-server-name`, and
 * `insecure-skip-tls-verify` when the context has no CA. Left out, a context that needs them works
 * for `isthmus link` and fails in the controller with a certificate error.
 */
export function clusterTlsOf(
  cluster: { caData?: string; caFile?: string; tlsServerName?: string; skipTLSVerify?: boolean } | null,
): Pick<RemoteFacts, 'caData' | 'tlsServerName' | 'insecureSkipTlsVerify'> {
  const caData = cluster?.caData
    ? cluster.caData
    : cluster?.caFile
      ? readFileSync(cluster.caFile).toString('base64')
      : undefined;
  return {
    ...(caData ? { caData } : {}),
    ...(cluster?.tlsServerName ? { tlsServerName: cluster.tlsServerName } : {}),
    ...(cluster?.skipTLSVerify && !caData ? { insecureSkipTlsVerify: true } : {}),
  };
}

/** Where a read-only account comes from, as a question for an error message. */
export function accountSource(account: string): string {
  return account === REMOTE_ACCESS_SERVICE_ACCOUNT
    ? 'is Isthmus installed there'
    : `did \`isthmus allow --service-account-name ${account}\` run there`;
}

/** The token the token controller wrote into a read-only account's Secret (`<account>-token`). */
export function tokenOf(
  secret: V1Secret | undefined,
  cluster: string,
  account: string = REMOTE_ACCESS_SERVICE_ACCOUNT,
): string {
  const data = secret?.data?.token;
  if (!data) {
    throw new IsthmusError(
      'LINK_INVALID',
      `cluster ${cluster} has no token in ${SYSTEM_NAMESPACE}/${account}-token yet: ` +
        `${accountSource(account)}, and has the token controller filled the Secret?`,
      { terminal: true },
    );
  }
  return Buffer.from(data, 'base64').toString('utf8');
}

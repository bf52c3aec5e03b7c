/**
 * Kubeconfig files for sandboxes: one cluster/user/context per sandbox, the CA inlined as
 * certificate-authority-data and a bearer token, which is what both kubectl and client-node's
 * KubeConfig.loadFromString read.
 */
import { stringify } from 'yaml';

export interface KubeconfigEntry {
  cluster: string;
  user: string;
  context: string;
  server: string;
  caPem: string | undefined;
  token: string;
  namespace?: string;
}

export function renderKubeconfig(entries: KubeconfigEntry[]): string {
  const first = entries[0];
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    preferences: {},
    'current-context': first?.context ?? '',
    clusters: entries.map((e) => ({
      name: e.cluster,
      cluster: {
        server: e.server,
        ...(e.caPem ? { 'certificate-authority-data': Buffer.from(e.caPem).toString('base64') } : {}),
      },
    })),
    users: entries.map((e) => ({ name: e.user, user: { token: e.token } })),
    contexts: entries.map((e) => ({
      name: e.context,
      context: { cluster: e.cluster, user: e.user, ...(e.namespace ? { namespace: e.namespace } : {}) },
    })),
  });
}

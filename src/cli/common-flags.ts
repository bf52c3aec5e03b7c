/** Flags shared by the long-running verbs: which cluster, which API server, how to be reached. */
import type { Command } from 'commander';
import { IsthmusError } from '../errors.js';
import type { KubeClient } from '../kube/client.js';

export interface KubeFlags {
  inCluster?: boolean;
  kubeconfig?: string;
  context?: string;
}

export function addKubeFlags(cmd: Command): Command {
  return cmd
    .option('--in-cluster', "use the pod's service account", false)
    .option('--kubeconfig <path>', 'kubeconfig file (default: $KUBECONFIG or ~/.kube/config)')
    .option('--context <name>', 'kubeconfig context');
}

export async function kubeClientFromFlags(flags: KubeFlags): Promise<KubeClient> {
  const { KubeClient } = await import('../kube/client.js');
  if (flags.inCluster) return KubeClient.inCluster();
  if (flags.kubeconfig) return KubeClient.fromKubeconfigFile(flags.kubeconfig, flags.context);
  return KubeClient.fromDefault(flags.context);
}

/** `host:port` → parts; `:port` or `port` means all interfaces. */
export function parseListen(text: string, flag: string): { host: string; port: number } {
  const m = /^(?:(.*):)?(\d{1,5})$/.exec(text);
  const port = m ? Number(m[2]) : Number.NaN;
  if (!m || port > 65535)
    throw new IsthmusError('USAGE', `${flag} must be HOST:PORT, got "${text}"`, { terminal: true });
  const host = (m[1] ?? '').replace(/^\[(.*)\]$/, '$1');
  return { host: host === '' ? '0.0.0.0' : host, port };
}

/** Go-style durations as the CRDs write them: 24h, 90s, 1h30m, 500ms. */
export function parseDurationFlag(text: string, flag: string): number {
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  const unit: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  let matched = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    total += Number(m[1]) * unit[m[2]!]!;
    matched = re.lastIndex;
  }
  if (text === '' || matched !== text.length || total <= 0) {
    throw new IsthmusError('USAGE', `${flag} must be a duration such as 24h or 90s, got "${text}"`, {
      terminal: true,
    });
  }
  return total;
}

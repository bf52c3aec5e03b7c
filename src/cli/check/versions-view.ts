/**
 * `isthmus version` (as `linkerd version` and `istioctl version`): the CLI's version and what the
 * installed pods run, read from the `app.kubernetes.io/version` label install puts on every pod
 * (src/cli/install/workloads.ts). Per pod, not per Deployment: mid-upgrade two versions run side
 * by side, and that is worth seeing. Pure rows and rendering; one list call to read them.
 */
import type { KubeClient } from '../../kube/client.js';
import { SYSTEM_NAMESPACE } from '../../kube/keys.js';
import { R } from '../../kube/resources.js';
import type { V1Pod } from '../../kube/types.js';
import { VERSION_LABEL } from '../../version.js';
import { PART_OF } from '../install/options.js';

/** What a pod installed by a CLI that did not record its version runs, as far as we can tell. */
export const UNKNOWN_VERSION = 'unknown';

export interface ComponentVersions {
  /** `app.kubernetes.io/component`: identity, gateway, controller. */
  component: string;
  /** Version → how many of its live pods run it. */
  pods: Record<string, number>;
}

export interface VersionReport {
  clientVersion: string;
  /** The one version every pod runs; `mixed`; or `unavailable` with no pod (or none readable). */
  serverVersion: string;
  components: ComponentVersions[];
  /** Why the pods could not be read. */
  error?: string;
}

/** Pods that still run or will: a finished or deleted pod says nothing of what the install runs now. */
function live(pod: V1Pod): boolean {
  const phase = pod.status?.phase;
  return !pod.metadata?.deletionTimestamp && phase !== 'Succeeded' && phase !== 'Failed';
}

export function componentVersions(pods: readonly V1Pod[]): ComponentVersions[] {
  const byComponent = new Map<string, Record<string, number>>();
  for (const pod of pods.filter(live)) {
    const labels = pod.metadata?.labels ?? {};
    const component = labels['app.kubernetes.io/component'] ?? UNKNOWN_VERSION;
    const version = labels[VERSION_LABEL] ?? UNKNOWN_VERSION;
    const counts = byComponent.get(component) ?? {};
    counts[version] = (counts[version] ?? 0) + 1;
    byComponent.set(component, counts);
  }
  return [...byComponent]
    .map(([component, counts]) => ({ component, pods: counts }))
    .sort((a, b) => a.component.localeCompare(b.component));
}

export function versionReport(
  clientVersion: string,
  components: ComponentVersions[],
  error?: string,
): VersionReport {
  const versions = new Set(components.flatMap((c) => Object.keys(c.pods)));
  const serverVersion =
    versions.size === 0 ? 'unavailable' : versions.size === 1 ? [...versions][0]! : 'mixed';
  return { clientVersion, serverVersion, components, ...(error ? { error } : {}) };
}

export async function readComponentVersions(client: KubeClient): Promise<ComponentVersions[]> {
  const { items } = await client.list<V1Pod>(R.pods, {
    namespace: SYSTEM_NAMESPACE,
    labelSelector: Object.entries(PART_OF)
      .map(([k, v]) => `${k}=${v}`)
      .join(','),
  });
  return componentVersions(items);
}

/** "0.1.0 (2 pods), 0.2.0 (1 pod)". */
export function describeCounts(pods: Record<string, number>): string {
  return Object.entries(pods)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([version, n]) => `${version} (${n} pod${n === 1 ? '' : 's'})`)
    .join(', ');
}

export function renderVersion(report: VersionReport): string {
  const lines = [`Client version: ${report.clientVersion}`];
  if (report.error) lines.push(`Server version: unavailable (${report.error})`);
  else if (report.serverVersion === 'unavailable')
    lines.push(`Server version: unavailable (no Isthmus pods in ${SYSTEM_NAMESPACE})`);
  else lines.push(`Server version: ${report.serverVersion}`);
  if (report.serverVersion === 'mixed') {
    const width = Math.max(...report.components.map((c) => c.component.length));
    for (const c of report.components)
      lines.push(`  ${c.component.padEnd(width)}  ${describeCounts(c.pods)}`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * The Deployments of the install and, for each one short of available replicas, its pods: their
 * status, and what a running but unready gateway or controller answers on its admin `/ready`,
 * read through the pod proxy as `/routes` is. pod-diagnosis.ts turns them into lines.
 */
import { describeError, isIsthmusError } from '../../errors.js';
import type { KubeClient } from '../../kube/client.js';
import { SYSTEM_NAMESPACE } from '../../kube/keys.js';
import { R } from '../../kube/resources.js';
import type { V1Deployment, V1Pod } from '../../kube/types.js';
import { podAdminGet } from './controller-scrape.js';
import { needsReadiness, readinessFromError, readyReasons } from './pod-diagnosis.js';
import type { DeploymentFacts, Fetched, PodsFetched } from './types.js';

/** A pod's admin `/ready`: the reasons it gives for not being ready, or why it could not be read. */
export async function readReadiness(
  client: KubeClient,
  pod: string,
  timeoutMs: number,
): Promise<Fetched<string[]>> {
  try {
    const body = await podAdminGet(client, pod, '/ready', timeoutMs);
    return { ok: true, value: readyReasons(typeof body === 'string' ? body : '') };
  } catch (err) {
    return readinessFromError(err);
  }
}

/** The pods install labels `app.kubernetes.io/name=<deployment>` (src/cli/install/workloads.ts). */
export async function deploymentPods(client: KubeClient, deployment: string): Promise<V1Pod[]> {
  const { items } = await client.list<V1Pod>(R.pods, {
    namespace: SYSTEM_NAMESPACE,
    labelSelector: `app.kubernetes.io/name=${deployment}`,
  });
  return items;
}

/** A Deployment's pods, with details; extra: a user who may not list pods still gets the Deployment's verdict. */
async function readPods(client: KubeClient, deployment: string, timeoutMs: number): Promise<PodsFetched> {
  let pods: V1Pod[];
  try {
    pods = await deploymentPods(client, deployment);
  } catch (err) {
    return {
      ok: false,
      error: describeError(err),
      ...(isIsthmusError(err, 'KUBE_FORBIDDEN') ? { forbidden: true } : {}),
    };
  }
  const value = await Promise.all(
    pods.map(async (pod) =>
      needsReadiness(pod)
        ? { pod, readiness: await readReadiness(client, pod.metadata?.name ?? '', timeoutMs) }
        : { pod },
    ),
  );
  return { ok: true, value };
}

export async function readDeployments(client: KubeClient, timeoutMs: number): Promise<DeploymentFacts[]> {
  const { items } = await client.list<V1Deployment>(R.deployments, { namespace: SYSTEM_NAMESPACE });
  return Promise.all(
    items.map(async (d) => {
      const facts = {
        name: d.metadata?.name ?? '',
        replicas: d.spec?.replicas ?? 1,
        available: d.status?.availableReplicas ?? 0,
        args: (d.spec?.template?.spec?.containers ?? []).flatMap((c) => [
          ...(c.command ?? []),
          ...(c.args ?? []),
        ]),
      };
      return facts.available < facts.replicas
        ? { ...facts, pods: await readPods(client, facts.name, timeoutMs) }
        : facts;
    }),
  );
}

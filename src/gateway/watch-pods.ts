/**
 * `--dial-pod-ips-only`: feeds the PodIPBook from a cluster-wide Pod informer and tells the
 * ServiceIndex which namespace's addresses changed, so an exported Service's endpoints are judged
 * again when a Pod gets its IP after its slice listed it, or turns Succeeded and frees it, without
 * waiting for a slice event. Level-triggered as watch-exports.ts: each event re-reads the cache.
 */
import { isIsthmusError } from '../errors.js';
import type { KubeClient } from '../kube/client.js';
import { createInformer, type Informer } from '../kube/informer.js';
import { R } from '../kube/resources.js';
import { type PodAddresses, type PodIPBook, podDialAddresses, trimPod } from './pod-ips.js';
import type { ServiceIndex } from './service-index.js';
import type { WatchSource } from './watch-exports.js';

/** Every Pod of the cluster, each trimmed to its phase, hostNetwork and IPs as it arrives. */
export function createPodInformer(kube: KubeClient): Informer<PodAddresses> {
  return createInformer<PodAddresses>(kube, R.pods, { transform: trimPod });
}

/**
 * Keeps `book` equal to what `pods` holds. The index hears of changes only once `listed` resolves
 * (the informer's first complete list): then every exported slice is judged at once, and after
 * that only those listing an address that changed. Returns an unsubscribe function; the
 * informer's lifecycle belongs to the caller.
 */
export function feedPodIPs(
  index: ServiceIndex,
  book: PodIPBook,
  pods: WatchSource<PodAddresses>,
  listed: Promise<void>,
): () => void {
  let stopped = false;
  const sync = (namespace: string, name: string): void => {
    const current = pods.get(namespace, name);
    const changed = book.setPod(namespace, name, current === undefined ? [] : podDialAddresses(current));
    // Every namespace's slices listing them: an IP another namespace now claims too (or no longer
    // does) changes what this one's slices may dial.
    if (changed.size > 0 && book.listed) index.podIPsChanged(undefined, changed);
  };
  const off = pods.onEvent((ev) => {
    const { namespace, name } = ev.object.metadata ?? {};
    if (namespace && name) sync(namespace, name);
  });
  // Whatever the cache already holds (subscribing after the initial list is allowed).
  for (const p of pods.list()) sync(p.metadata?.namespace ?? '', p.metadata?.name ?? '');
  listed
    .then(() => {
      if (stopped) return;
      book.markListed();
      index.podIPsChanged();
    })
    .catch(() => {});
  return () => {
    stopped = true;
    off();
  };
}

/**
 * What the gateway says (log, `/ready`) when the API server will not let it list Pods: the install
 * grants it only with `--gateway-dial-pod-ips-only`, so a gateway started with the flag by hand, or
 * a ClusterRole edited since, would otherwise sit unready with nothing but "pods not synced".
 * Undefined for any other failure (those are retried and logged as every watch's are).
 */
export function podListRefusal(err: unknown): string | undefined {
  if (!isIsthmusError(err, 'KUBE_FORBIDDEN')) return undefined;
  return '--dial-pod-ips-only: the API server refuses to list Pods (403): grant the gateway get, list and watch on pods cluster-wide (isthmus upgrade --gateway-dial-pod-ips-only renders it); nothing is dialled until then';
}

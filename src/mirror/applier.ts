/**
 * Turns planned actions into API calls (house style 1: the thin I/O half of plan-then-apply) and
 * reports what each did, with controller-runtime's CreateOrUpdate outcomes. Every update and
 * delete re-reads the object first and re-checks ownership (an object the cache does not hold is
 * created without a read, and a 409 AlreadyExists falls back to the same read and check), so a stale cache can neither overwrite a stranger's
 * object nor cause a blind update; a replace carries the resourceVersion read, so a concurrent
 * change gives 409 and the work queue retries from fresh state.
 */

import { IsthmusError, isIsthmusError } from '../errors.js';
import type { KubeClient } from '../kube/client.js';
import { isAlreadyExists } from '../kube/errors.js';
import { SERVICE_NAME_LABEL } from '../kube/keys.js';
import { R } from '../kube/resources.js';
import type { KubeObject, V1EndpointSlice, V1Namespace, V1Service } from '../kube/types.js';
import { clusterIPRefusal, withoutClusterIP } from './hand-over.js';
import { isOurService, isOurSlice } from './mirror-objects.js';
import type { WrittenKind } from './own-writes.js';
import {
  mergeService,
  mergeSlice,
  serviceDiffers,
  serviceNeedsRecreate,
  sliceDiffers,
} from './owned-fields.js';
import type { Action } from './plan-mirror.js';

export type Outcome = 'created' | 'updated' | 'unchanged' | 'deleted';

export interface AppliedAction {
  action: Action['kind'];
  namespace: string;
  name: string;
  outcome: Outcome;
  /**
   * A Service created asking for the ClusterIP of the one that held its name (`keepClusterIP`):
   * that address, and what the API server said if it refused it (the Service has another then).
   */
  clusterIP?: { asked: string; refused?: string };
  /**
   * A delete that found the object and left it: not ours, or (`heldBy`) its name held by another
   * Service than the plan's by now. Whatever the plan assumed gone is still in place.
   */
  stayed?: true;
}

/**
 * Told of each action as soon as it is done: what a batch did before a later write failed is not
 * lost with the error (a retry finds it done and has nothing left to say about it).
 */
export type OnApplied = (applied: AppliedAction) => void;

/**
 * The API calls the applier needs: a KubeClient, or a stand-in with the same methods. Writes are
 * answered with metadata only: the applier needs back only the new resourceVersion (own-writes.ts)
 * and a Service's uid (its slice's owner), and 20,000 full answers were a visible part of an
 * initial sync's CPU on both sides.
 */
export type ApplierClient = Pick<KubeClient, 'get' | 'createForMetadata' | 'replaceForMetadata' | 'delete'>;

/**
 * What the caller's informer cache holds. An object the cache does not have is created straight
 * away instead of read first: the create cannot overwrite anything (a name taken meanwhile, or a
 * stranger's object the cache does not see, answers 409 AlreadyExists, and the applier then reads
 * and checks as usual). This halves the requests of an initial sync, which matters most under a
 * client-side rate limit (mirror benchmark: 4 → 2 requests per new mirror).
 */
export interface CacheView {
  has(kind: WrittenKind, namespace: string, name: string): boolean;
  /** Runs every create and update, so that their watch echoes can be told apart (own-writes.ts). */
  track?(
    kind: WrittenKind,
    namespace: string,
    name: string,
    write: () => Promise<KubeObject>,
  ): Promise<KubeObject>;
}

/** One create or update, through the view's `track` when it has one. */
function tracked(
  cache: CacheView | undefined,
  kind: WrittenKind,
  obj: KubeObject,
  write: () => Promise<KubeObject>,
): Promise<KubeObject> {
  const { namespace = '', name = '' } = obj.metadata ?? {};
  return cache?.track ? cache.track(kind, namespace, name, write) : write();
}

function conflict(kind: string, namespace: string, name: string): IsthmusError {
  // Not retried: the owner of that object has to remove it; the status says so.
  return new IsthmusError('KUBE_CONFLICT', `${kind} ${namespace}/${name} exists and is not ours`, {
    terminal: true,
  });
}

export async function applyActions(
  client: ApplierClient,
  cluster: string,
  actions: Action[],
  cache?: CacheView,
  onApplied?: OnApplied,
): Promise<AppliedAction[]> {
  const done: AppliedAction[] = [];
  const note = (applied: AppliedAction) => {
    done.push(applied);
    onApplied?.(applied);
  };
  // The Service applied in this batch (its metadata), so that its slice can point at it without
  // another GET.
  let lastService: KubeObject | undefined;
  for (const action of actions) {
    switch (action.kind) {
      case 'createNamespace': {
        const created = await createNamespace(client, action.namespace);
        note(record(action, action.namespace, created ? 'created' : 'unchanged'));
        break;
      }
      case 'applyService': {
        const { service, outcome, clusterIP } = await applyService(client, cluster, action, cache);
        lastService = service;
        note({ ...record(action, action.service, outcome), ...(clusterIP ? { clusterIP } : {}) });
        break;
      }
      case 'applySlice': {
        const meta = action.slice.metadata ?? {};
        // The mirror Service the slice serves: named as its first slice, labelled on every one.
        const service = meta.labels?.[SERVICE_NAME_LABEL] ?? meta.name ?? '';
        if (lastService?.metadata?.name !== service)
          lastService = await client.get<V1Service>(R.services, meta.namespace, service);
        const owner = lastService;
        const outcome = await applySlice(client, cluster, withOwner(action.slice, owner), cache);
        note(record(action, action.slice, outcome));
        break;
      }
      case 'deleteService':
      case 'deleteSlice': {
        const res = action.kind === 'deleteService' ? R.services : R.endpointSlices;
        const existing = await client.get<V1Service | V1EndpointSlice>(res, action.namespace, action.name);
        const ours =
          action.kind === 'deleteService'
            ? isOurService(existing as V1Service | undefined, cluster) || adopted(existing, action.adopt)
            : isOurSlice(existing as V1EndpointSlice | undefined, cluster) &&
              (action.heldBy === undefined ||
                (await stillHeldBy(client, existing as V1EndpointSlice, action.heldBy)));
        let outcome: Outcome = 'unchanged';
        if (existing && ours) {
          // Precondition on the version read: never delete an object that changed hands meanwhile.
          const rv = existing.metadata?.resourceVersion;
          const deleted = await client.delete(
            res,
            action.namespace,
            action.name,
            rv ? { resourceVersion: rv } : {},
          );
          if (deleted) outcome = 'deleted';
        }
        const stayed = existing !== undefined && !ours ? { stayed: true as const } : {};
        note({ action: action.kind, namespace: action.namespace, name: action.name, outcome, ...stayed });
        break;
      }
    }
  }
  return done;
}

function record(action: Action, obj: { metadata?: { namespace?: string; name?: string } }, outcome: Outcome) {
  return {
    action: action.kind,
    namespace: obj.metadata?.namespace ?? '',
    name: obj.metadata?.name ?? '',
    outcome,
  };
}

function withOwner(slice: V1EndpointSlice, owner: KubeObject | undefined): V1EndpointSlice {
  const uid = owner?.metadata?.uid;
  if (!uid) return slice;
  const name = owner.metadata?.name ?? '';
  return {
    ...slice,
    metadata: {
      ...slice.metadata,
      ownerReferences: [
        { apiVersion: 'v1', kind: 'Service', name, uid, controller: true, blockOwnerDeletion: true },
      ],
    },
  };
}

/**
 * Whether the Service a slice of ours serves is still the one, not ours, that the planner found
 * holding its name: a cache behind may not show our own new mirror there yet.
 */
async function stillHeldBy(client: ApplierClient, slice: V1EndpointSlice, uid: string): Promise<boolean> {
  const meta = slice.metadata ?? {};
  const service = await client.get<V1Service>(
    R.services,
    meta.namespace,
    meta.labels?.[SERVICE_NAME_LABEL] ?? meta.name ?? '',
  );
  return service?.metadata?.uid === uid;
}

/** The very Service the planner found ours by its slices (plan-mirror.ts `adopt`), by uid. */
function adopted(existing: KubeObject | undefined, uid: string | undefined): boolean {
  return uid !== undefined && existing?.metadata?.uid === uid;
}

async function applyService(
  client: ApplierClient,
  cluster: string,
  { service: desired, adopt, keepClusterIP }: Extract<Action, { kind: 'applyService' }>,
  cache: CacheView | undefined,
): Promise<{ service: KubeObject; outcome: Outcome; clusterIP?: AppliedAction['clusterIP'] }> {
  const write = (service: V1Service, call: () => Promise<KubeObject>) =>
    tracked(cache, 'Service', service, call);
  let refused: string | undefined;
  const create = async () => {
    try {
      return await write(desired, () => client.createForMetadata(R.services, desired));
    } catch (err) {
      // The address of the Service that held the name, given to another meanwhile (or out of
      // range): a mirror with a new one serves all callers that resolve its name again.
      const why = keepClusterIP === undefined ? undefined : clusterIPRefusal(err);
      if (why === undefined) throw err;
      refused = why;
      const fresh = withoutClusterIP(desired);
      return write(fresh, () => client.createForMetadata(R.services, fresh));
    }
  };
  const created = (service: KubeObject) => ({
    service,
    outcome: 'created' as const,
    ...(keepClusterIP === undefined
      ? {}
      : { clusterIP: { asked: keepClusterIP, ...(refused === undefined ? {} : { refused }) } }),
  });
  const { namespace = '', name = '' } = desired.metadata ?? {};
  if (cache && !cache.has('Service', namespace, name)) {
    const service = await createUnlessExists(create);
    if (service) return created(service);
  }
  const existing = await client.get<V1Service>(R.services, namespace, name);
  if (!existing) return created(await create());
  if (!isOurService(existing, cluster) && !adopted(existing, adopt))
    throw conflict('Service', namespace, name);
  if (!serviceDiffers(existing, desired)) return { service: existing, outcome: 'unchanged' };
  if (serviceNeedsRecreate(existing, desired)) {
    // clusterIP is immutable (API validation): headless ↔ ClusterIP means delete and create.
    const rv = existing.metadata?.resourceVersion;
    await client.delete(R.services, namespace, name, rv ? { resourceVersion: rv } : {});
    return { service: await create(), outcome: 'updated' };
  }
  const merged = mergeService(existing, desired);
  const updated = await write(merged, () => client.replaceForMetadata(R.services, merged));
  return { service: updated, outcome: 'updated' };
}

async function applySlice(
  client: ApplierClient,
  cluster: string,
  desired: V1EndpointSlice,
  cache: CacheView | undefined,
): Promise<Outcome> {
  const create = () =>
    tracked(cache, 'EndpointSlice', desired, () => client.createForMetadata(R.endpointSlices, desired));
  const { namespace = '', name = '' } = desired.metadata ?? {};
  if (cache && !cache.has('EndpointSlice', namespace, name)) {
    if (await createUnlessExists(create)) return 'created';
  }
  const existing = await client.get<V1EndpointSlice>(R.endpointSlices, namespace, name);
  if (!existing) {
    await create();
    return 'created';
  }
  if (!isOurSlice(existing, cluster)) throw conflict('EndpointSlice', namespace, name);
  if (!sliceDiffers(existing, desired)) return 'unchanged';
  if (existing.addressType !== desired.addressType) {
    // addressType is immutable (API validation): remote pods or gateways of the other family
    // (a dual-stack migration, a move between remote discovery and the tunnel) mean delete and create.
    const rv = existing.metadata?.resourceVersion;
    await client.delete(R.endpointSlices, namespace, name, rv ? { resourceVersion: rv } : {});
    await create();
    return 'updated';
  }
  const merged = mergeSlice(existing, desired);
  await tracked(cache, 'EndpointSlice', merged, () => client.replaceForMetadata(R.endpointSlices, merged));
  return 'updated';
}

/**
 * Creates a mirror's missing namespace; false when it exists already (another Link, or a person,
 * was first). Without the RBAC grant the error says which one is missing; it is retried with
 * backoff, so granting it later heals the mirror without a restart.
 */
async function createNamespace(client: ApplierClient, namespace: V1Namespace): Promise<boolean> {
  const name = namespace.metadata?.name ?? '';
  try {
    return (await createUnlessExists(() => client.createForMetadata(R.namespaces, namespace))) !== undefined;
  } catch (err) {
    if (!isIsthmusError(err, 'KUBE_FORBIDDEN')) throw err;
    throw new IsthmusError(
      'MIRROR_NAMESPACE_FORBIDDEN',
      `namespace ${name} does not exist locally and the controller may not create it ` +
        `(isthmus install --enable-namespace-creation grants it): ${err.message}`,
      { cause: err },
    );
  }
}

/** The created object, or undefined when the name is taken (409 AlreadyExists): read and check then. */
async function createUnlessExists<T>(create: () => Promise<T>): Promise<T | undefined> {
  try {
    return await create();
  } catch (err) {
    if (isAlreadyExists(err)) return undefined;
    throw err;
  }
}

/**
 * LIST as kube-apiserver serves it: namespace and selector filtering, `limit`/`continue` pages
 * over one consistent snapshot (continue tokens carry the snapshot's resourceVersion, as the etcd3
 * storage encodes them), `resourceVersion`/`resourceVersionMatch`, and List shaping (typed lists
 * drop items' apiVersion/kind; unstructured CR lists keep them).
 */

import { forbidden, notSupported, type StatusCause } from '../kube/validation/field-errors.js';
import {
  type FieldRequirement,
  type LabelRequirement,
  matchesFields,
  matchesLabels,
  parseFieldSelector,
  parseLabelSelector,
  SelectorError,
} from '../kube/validation/selectors.js';
import { ApiError, badRequest, expired, invalidObject } from './api-status.js';
import { servedView } from './object-meta.js';
import type { ResourceType } from './resource-types.js';
import { apiVersionOf, resourceKey } from './resource-types.js';
import type { KObj, ObjectStore, SortedObjects } from './store.js';
import { objKey } from './store.js';

export interface Selectors {
  labels: LabelRequirement[];
  fields: FieldRequirement[];
}

export interface ListQuery {
  labelSelector?: string | null;
  fieldSelector?: string | null;
  limit?: string | null;
  continue?: string | null;
  resourceVersion?: string | null;
  resourceVersionMatch?: string | null;
}

export function supportedFields(rt: ResourceType): string[] {
  return ['metadata.name', 'metadata.namespace', ...rt.extraFields];
}

export function parseSelectors(rt: ResourceType, q: ListQuery): Selectors {
  try {
    return {
      labels: q.labelSelector ? parseLabelSelector(q.labelSelector) : [],
      fields: q.fieldSelector ? parseFieldSelector(q.fieldSelector, supportedFields(rt)) : [],
    };
  } catch (err) {
    if (err instanceof SelectorError) throw badRequest(err.message);
    throw err;
  }
}

export function matches(sel: Selectors, obj: KObj): boolean {
  return matchesLabels(sel.labels, obj.metadata.labels) && matchesFields(sel.fields, obj);
}

interface ContinueToken {
  v: string;
  rv: number;
  start: string;
}

function encodeContinue(rv: number, start: string): string {
  const t: ContinueToken = { v: 'meta.k8s.io/v1', rv, start };
  return Buffer.from(JSON.stringify(t)).toString('base64url');
}

function decodeContinue(token: string): ContinueToken {
  try {
    const t = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as ContinueToken;
    if (t.v !== 'meta.k8s.io/v1' || typeof t.rv !== 'number' || typeof t.start !== 'string')
      throw new Error('bad');
    return t;
  } catch {
    throw badRequest(
      'continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)',
    );
  }
}

/** storage.ErrExpired's text for a compacted continue token (kube-apiserver's ErrInvalidContinue). */
const CONTINUE_EXPIRED =
  'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.';

export interface ListResult {
  items: KObj[];
  resourceVersion: string;
  continue?: string;
  remainingItemCount?: number;
}

/**
 * apimachinery ValidateListOptions (meta/internalversion/validation): a 422 naming the
 * ListOptions.meta.k8s.io kind. A list's resourceVersionMatch needs a resourceVersion, no continue
 * token, a known value and not Exact with "0"; a watch takes none without sendInitialEvents.
 */
export function validateListOptions(q: ListQuery, watch: boolean): void {
  const match = q.resourceVersionMatch ?? '';
  if (match === '') return;
  const causes: StatusCause[] = [];
  const field = 'resourceVersionMatch';
  if (watch) {
    causes.push(
      forbidden(field, 'resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided'),
    );
    if (match !== 'NotOlderThan') causes.push(notSupported(field, match, ['NotOlderThan']));
    if (q.continue)
      causes.push(forbidden(field, 'resourceVersionMatch is forbidden when continue is provided'));
  } else {
    if (!q.resourceVersion)
      causes.push(forbidden(field, 'resourceVersionMatch is forbidden unless resourceVersion is provided'));
    if (q.continue)
      causes.push(forbidden(field, 'resourceVersionMatch is forbidden when continue is provided'));
    if (match !== 'Exact' && match !== 'NotOlderThan')
      causes.push(notSupported(field, match, ['Exact', 'NotOlderThan', '']));
    if (match === 'Exact' && q.resourceVersion === '0') {
      causes.push(forbidden(field, 'resourceVersionMatch "exact" is forbidden for resourceVersion "0"'));
    }
  }
  if (causes.length > 0) throw invalidObject('ListOptions', 'meta.k8s.io', '', causes);
}

export function listObjects(
  store: ObjectStore,
  rt: ResourceType,
  version: string,
  namespace: string | undefined,
  q: ListQuery,
): ListResult {
  validateListOptions(q, false);
  const sel = parseSelectors(rt, q);
  const limit = q.limit ? Number(q.limit) : 0;
  if (!Number.isInteger(limit) || limit < 0) throw badRequest(`invalid limit: ${q.limit}`);
  const key = resourceKey(rt.group, rt.plural);
  let rv = store.currentRv();
  let start = '';
  let sorted: SortedObjects;
  if (q.continue) {
    if (q.resourceVersion) throw badRequest('specifying resource version is not allowed when using continue');
    const t = decodeContinue(q.continue);
    if (t.rv < store.compactedRv()) throw expired(CONTINUE_EXPIRED);
    rv = t.rv;
    start = t.start;
    sorted = sortedAt(store, key, rv);
  } else if (q.resourceVersion && q.resourceVersion !== '0' && Number(q.resourceVersion) > rv) {
    // The cacher waits up to 3 s for a future version, then gives up with 504
    // (storage.NewTooLargeResourceVersionError, an errors.NewTimeoutError: "Timeout: " leads the
    // message). The sandbox answers at once: the same failure, sooner (a write within those 3 s
    // would have let kube-apiserver answer the list).
    throw new ApiError(
      504,
      'Timeout',
      `Timeout: Too large resource version: ${q.resourceVersion}, current: ${rv}`,
      {
        causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }],
        retryAfterSeconds: 1,
      },
    );
  } else if (
    q.resourceVersion &&
    (q.resourceVersionMatch === 'Exact' ||
      // A limit with a resourceVersion other than "0" and no match is Exact too (KEP-2523: the
      // legacy semantics of paginated lists), 410 Gone once compacted.
      (!q.resourceVersionMatch && limit > 0 && q.resourceVersion !== '0'))
  ) {
    rv = Number(q.resourceVersion);
    if (!Number.isInteger(rv)) throw badRequest(`invalid resource version: ${q.resourceVersion}`);
    sorted = sortedAt(store, key, rv);
  } else {
    sorted = store.sortedOf(key);
  }
  // resourceVersion=0 is served from the watch cache, which ignores limit (kube 1.25-1.30).
  const pageLimit = q.resourceVersion === '0' && !q.continue ? 0 : limit;
  // Keys sort namespace by namespace, so one namespace is one run of keys: the page is read from
  // where the continue token points, without filtering what came before.
  const prefix = namespace === undefined ? '' : objKey(namespace, '');
  const end = namespace === undefined ? sorted.keys.length : lowerBound(sorted.keys, prefixEnd(prefix));
  const page: KObj[] = [];
  let i = lowerBound(sorted.keys, start > prefix ? start : prefix);
  for (; i < end; i++) {
    const o = sorted.objects[i]!;
    if (!matches(sel, o)) continue;
    if (pageLimit > 0 && page.length === pageLimit) break;
    page.push(o);
  }
  const result: ListResult = {
    items: page.map((o) => shapeItem(rt, o, version)),
    resourceVersion: String(rv),
  };
  if (i < end) {
    const last = page[page.length - 1]!;
    result.continue = encodeContinue(rv, `${objKey(last.metadata.namespace, last.metadata.name!)}\u0000`);
    if (sel.labels.length === 0 && sel.fields.length === 0) result.remainingItemCount = end - i;
  }
  return result;
}

/** The resource's objects at `rv`, sorted: the shared sorted view when nothing changed since. */
function sortedAt(store: ObjectStore, key: string, rv: number): SortedObjects {
  if (store.unchangedSince(key, rv)) return store.sortedOf(key);
  const objects = store.snapshotAt(key, rv);
  return { keys: objects.map((o) => objKey(o.metadata.namespace, o.metadata.name!)), objects };
}

/** Index of the first key >= `k` in ascending `keys`. */
function lowerBound(keys: readonly string[], k: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid]! < k) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The least string above every string that starts with `prefix` ("ns/" → "ns0"). */
function prefixEnd(prefix: string): string {
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
}

/**
 * Typed (built-in) lists serialize items without TypeMeta; unstructured CR lists keep it. A shallow
 * copy: the item is only serialized, and its nested parts are the stored object's (read-only).
 */
export function shapeItem(rt: ResourceType, obj: KObj, version: string): KObj {
  if (!rt.crd) {
    const { apiVersion: _a, kind: _k, ...rest } = obj;
    return rest as KObj;
  }
  return servedView(rt, obj, version);
}

export function listEnvelope(rt: ResourceType, version: string, r: ListResult): Record<string, unknown> {
  const metadata: Record<string, unknown> = { resourceVersion: r.resourceVersion };
  if (r.continue) metadata.continue = r.continue;
  if (r.remainingItemCount !== undefined) metadata.remainingItemCount = r.remainingItemCount;
  return { apiVersion: apiVersionOf(rt.group, version), kind: `${rt.kind}List`, metadata, items: r.items };
}

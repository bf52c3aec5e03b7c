/**
 * Accept negotiation as kube-apiserver does it (apiserver `endpoints/handlers/negotiation` and
 * `handlers/response.go`): the first media type of the Accept header this server can answer wins.
 * Besides plain objects it answers the meta.k8s.io transforms: `Table` (kubectl get),
 * `PartialObjectMetadata` (one object, or each object of a watch: metadata-only clients, and
 * writers that need only the new resourceVersion and uid back) and `PartialObjectMetadataList`.
 * A header that offers nothing servable, or a transform that does not fit the answer (a list asked
 * for as one object, or the reverse), is 406 NotAcceptable. Answers are always JSON: protobuf and
 * YAML are accepted as offers (client-go offers protobuf first) and the Content-Type says JSON.
 */
import { ApiError } from './api-status.js';
import type { KObj } from './store.js';

export type AnswerShape = 'object' | 'Table' | 'PartialObjectMetadata' | 'PartialObjectMetadataList';

export interface Negotiated {
  shape: AnswerShape;
  /** `meta.k8s.io/v1` or `meta.k8s.io/v1beta1` for the transforms. */
  apiVersion: string;
}

const MEDIA_TYPES = ['application/json', 'application/yaml', 'application/vnd.kubernetes.protobuf'];
const SERVABLE = new Set([...MEDIA_TYPES, 'application/*', '*/*']);
const TRANSFORMS = new Set<AnswerShape>(['Table', 'PartialObjectMetadata', 'PartialObjectMetadataList']);
const META_VERSIONS = new Set(['v1', 'v1beta1']);

function notAcceptable(message: string): ApiError {
  return new ApiError(406, 'NotAcceptable', message, {});
}

/** One offer of the Accept header, or undefined when this server cannot answer it. */
function offer(entry: string): Negotiated | undefined {
  const [type = '', ...params] = entry.split(';').map((s) => s.trim());
  if (!SERVABLE.has(type.toLowerCase())) return undefined;
  const p = new Map<string, string>();
  for (const kv of params) {
    const eq = kv.indexOf('=');
    if (eq > 0) p.set(kv.slice(0, eq).trim().toLowerCase(), kv.slice(eq + 1).trim());
  }
  if (p.get('q') === '0') return undefined;
  const as = p.get('as');
  if (as === undefined) return { shape: 'object', apiVersion: '' };
  // AllowsMediaTypeTransform: only meta.k8s.io v1/v1beta1 transforms exist.
  const version = p.get('v') ?? '';
  if (!TRANSFORMS.has(as as AnswerShape) || p.get('g') !== 'meta.k8s.io' || !META_VERSIONS.has(version))
    return undefined;
  return { shape: as as AnswerShape, apiVersion: `meta.k8s.io/${version}` };
}

/**
 * The answer a request gets. `list` says whether the verb answers a list (list, deletecollection);
 * a watch's objects are single objects. `kind` names the type in 406 messages, as kube does.
 * kube-apiserver negotiates the media type before a write but finds a list/object mismatch only
 * when it transforms the answer, after the write happened; here both are refused before.
 */
export function negotiate(accept: string | undefined, list: boolean, kind: string): Negotiated {
  const header = (accept ?? '').trim();
  if (header === '') return { shape: 'object', apiVersion: '' };
  const chosen = header
    .split(',')
    .map(offer)
    .find((o) => o !== undefined);
  if (!chosen) throw notAcceptable(`only the following media types are accepted: ${MEDIA_TYPES.join(', ')}`);
  if (chosen.shape === 'PartialObjectMetadata' && list)
    throw notAcceptable(
      `you requested PartialObjectMetadata, but the requested object is a list (*v1.${kind}List)`,
    );
  if (chosen.shape === 'PartialObjectMetadataList' && !list)
    throw notAcceptable(
      `you requested PartialObjectMetadataList, but the requested object is not a list (*v1.${kind})`,
    );
  return chosen;
}

/** meta.AsPartialObjectMetadata: the object's kind becomes PartialObjectMetadata, metadata stays whole. */
export function asPartialObjectMetadata(obj: KObj, apiVersion: string): KObj {
  return { kind: 'PartialObjectMetadata', apiVersion, metadata: obj.metadata };
}

/** asPartialObjectMetadataList: every item as above, the list's metadata (resourceVersion, continue) kept. */
export function asPartialObjectMetadataList(
  items: KObj[],
  metadata: unknown,
  apiVersion: string,
): Record<string, unknown> {
  return {
    kind: 'PartialObjectMetadataList',
    apiVersion,
    metadata,
    items: items.map((o) => asPartialObjectMetadata(o, apiVersion)),
  };
}

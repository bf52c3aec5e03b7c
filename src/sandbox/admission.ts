/**
 * What happens to a write before the registry sees it: decoding the body against the URL's kind
 * (the serializer's GVK defaulting and EnsureObjectNamespaceMatchesRequestNamespace) and the
 * NamespaceLifecycle admission plugin.
 */
import { badRequest, forbidden, notFound } from './api-status.js';
import { apiVersionOf, groupResource, type ResourceType, resourceKey } from './resource-types.js';
import type { KObj, ObjectStore } from './store.js';

/** Decodes a body into an object of the URL's kind: kube's serializer + EnsureObjectNamespaceMatchesRequestNamespace. */
/** A JSON request body; malformed JSON is the serializer's 400. */
export function parseJsonBody(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch (err) {
    throw badRequest(`couldn't get version/kind; json parse error: ${(err as Error).message}`);
  }
}

export function decodeBody(
  rt: ResourceType,
  version: string,
  namespace: string | undefined,
  body: unknown,
): KObj {
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw badRequest(`Object 'Kind' is missing in '${JSON.stringify(body)}'`);
  }
  const obj = structuredClone(body) as KObj;
  const want = apiVersionOf(rt.group, version);
  if (obj.kind === undefined || obj.kind === '' || obj.apiVersion === undefined || obj.apiVersion === '') {
    // Built-in types default their GVK from the URL; unstructured (CR) decoding requires both.
    if (rt.crd) throw badRequest(`Object 'Kind' is missing in '${JSON.stringify(body)}'`);
    obj.kind ||= rt.kind;
    obj.apiVersion ||= want;
  }
  if (obj.apiVersion !== want) {
    throw badRequest(
      `the API version in the data (${String(obj.apiVersion)}) does not match the expected API version (${want})`,
    );
  }
  if (obj.kind !== rt.kind) {
    throw badRequest(
      `${String(obj.kind)} in version "${version}" cannot be handled as a ${rt.kind}: no kind "${String(obj.kind)}" is registered for version "${want}"`,
    );
  }
  if (obj.metadata === undefined || obj.metadata === null) obj.metadata = {};
  if (typeof obj.metadata !== 'object' || Array.isArray(obj.metadata)) {
    throw badRequest(
      `${rt.kind} in version "${version}" cannot be handled as a ${rt.kind}: metadata must be an object`,
    );
  }
  const ns = obj.metadata.namespace ?? '';
  if (!rt.namespaced) delete obj.metadata.namespace;
  else if (ns === '') obj.metadata.namespace = namespace;
  else if (ns !== namespace) {
    throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
  }
  return obj;
}

/** NamespaceLifecycle admission: no new objects in a missing or terminating namespace. */
export function admitNamespace(
  store: ObjectStore,
  rt: ResourceType,
  namespace: string | undefined,
  name: string | undefined,
): void {
  if (!rt.namespaced || namespace === undefined) return;
  const ns = store.get(resourceKey('', 'namespaces'), undefined, namespace);
  if (!ns) throw notFound({ group: '', resource: 'namespaces' }, namespace);
  if (ns.metadata.deletionTimestamp) {
    const err = forbidden(
      groupResource(rt),
      name,
      `unable to create new content in namespace ${namespace} because it is being terminated`,
    );
    err.details!.causes = [
      {
        reason: 'NamespaceTerminating',
        message: `namespace ${namespace} is being terminated`,
        field: 'metadata.namespace',
      },
    ];
    throw err;
  }
}

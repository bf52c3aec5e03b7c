/**
 * URL → request attributes, as apiserver's RequestInfoFactory does: `/api/v1/...` and
 * `/apis/<group>/<version>/...`, optional `namespaces/<ns>/` scope, the deprecated `watch/`
 * prefix, name and subresource. Verbs follow the same mapping (GET on a collection is `list`, with
 * `watch=true` it is `watch`; DELETE on a collection is `deletecollection`).
 */
export interface ResourcePath {
  group: string;
  version: string;
  plural: string;
  namespace: string | undefined;
  name: string | undefined;
  subresource: string | undefined;
  /** /api/v1/watch/... (deprecated form of ?watch=true) */
  watchPrefix: boolean;
  /** What follows a `proxy` subresource, still %-escaped (`/metrics` of `.../pods/p:4191/proxy/metrics`). */
  proxyPath?: string;
}

/** Discovery document paths: `/api`, `/apis/<g>` etc. (group/version only, no resource). */
export interface DiscoveryPath {
  group: string | undefined;
  version: string | undefined;
  legacy: boolean;
}

export type ParsedPath =
  | { type: 'resource'; info: ResourcePath }
  | { type: 'discovery'; info: DiscoveryPath }
  | { type: 'other'; path: string };

export function parsePath(pathname: string): ParsedPath {
  let parts: string[];
  try {
    parts = pathname
      .split('/')
      .filter((p) => p !== '')
      .map(decodeURIComponent);
  } catch {
    return { type: 'other', path: pathname }; // malformed %-escape: no such resource
  }
  let group: string;
  let version: string | undefined;
  let rest: string[];
  if (parts[0] === 'api') {
    group = '';
    version = parts[1];
    rest = parts.slice(2);
    if (version === undefined)
      return { type: 'discovery', info: { group: undefined, version: undefined, legacy: true } };
    if (rest.length === 0) return { type: 'discovery', info: { group: '', version, legacy: true } };
  } else if (parts[0] === 'apis') {
    if (parts[1] === undefined)
      return { type: 'discovery', info: { group: undefined, version: undefined, legacy: false } };
    group = parts[1];
    version = parts[2];
    rest = parts.slice(3);
    if (version === undefined)
      return { type: 'discovery', info: { group, version: undefined, legacy: false } };
    if (rest.length === 0) return { type: 'discovery', info: { group, version, legacy: false } };
  } else {
    return { type: 'other', path: pathname };
  }
  let watchPrefix = false;
  if (rest[0] === 'watch') {
    watchPrefix = true;
    rest = rest.slice(1);
  }
  let namespace: string | undefined;
  let plural: string;
  let name: string | undefined;
  let subresource: string | undefined;
  // `namespaces/<ns>/status|finalize` address the Namespace itself (RequestInfoFactory's namespaceSubresources).
  if (rest[0] === 'namespaces' && rest.length >= 3 && rest[2] !== 'status' && rest[2] !== 'finalize') {
    namespace = rest[1];
    plural = rest[2]!;
    name = rest[3];
    subresource = rest[4];
    if (subresource === 'proxy') {
      const info = { group, version, plural, namespace, name, subresource, watchPrefix };
      const proxyPath = proxyRemainder(pathname, parts.length - rest.length + 5);
      return { type: 'resource', info: { ...info, proxyPath } };
    }
    if (rest.length > 5) return { type: 'other', path: pathname };
  } else {
    plural = rest[0]!;
    name = rest[1];
    subresource = rest[2];
    if (rest.length > 3) return { type: 'other', path: pathname };
  }
  return { type: 'resource', info: { group, version, plural, namespace, name, subresource, watchPrefix } };
}

/**
 * The raw path after the `proxy` segment, which is the `skip`-th non-empty one (kube's proxy
 * handler forwards it as received, trailing slash included); `/` when nothing follows.
 */
function proxyRemainder(pathname: string, skip: number): string {
  const segments = pathname.split('/');
  let seen = 0;
  let i = 0;
  while (i < segments.length && seen < skip) if (segments[i++] !== '') seen++;
  return `/${segments.slice(i).join('/')}`;
}

export function verbFor(method: string, info: ResourcePath, watchParam: boolean): string {
  switch (method) {
    case 'GET':
    case 'HEAD':
      if (info.watchPrefix || watchParam) return 'watch';
      return info.name === undefined ? 'list' : 'get';
    case 'POST':
      return 'create';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return info.name === undefined ? 'deletecollection' : 'delete';
    default:
      return '';
  }
}

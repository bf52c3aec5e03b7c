/**
 * The OpenAPI v3 discovery kubectl needs (`/openapi/v3` and one document per group-version).
 * kubectl uses it to learn that the server validates fields itself (a PATCH operation per kind
 * with a `fieldValidation` query parameter, found by `x-kubernetes-group-version-kind`), after
 * which it skips client-side schema validation and builds apply patches from its compiled-in
 * types. No schemas are published, so `kubectl explain` is not supported.
 */
import { createHash } from 'node:crypto';
import type { Registry } from './registry.js';
import { apiVersionOf, type ResourceType } from './resource-types.js';

function gvPath(group: string, version: string): string {
  return group ? `apis/${group}/${version}` : `api/${version}`;
}

function gvList(registry: Registry): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const rt of registry.all()) {
    for (const v of rt.versions)
      if (!out.some(([g, x]) => g === rt.group && x === v)) out.push([rt.group, v]);
  }
  return out;
}

function hashOf(registry: Registry, group: string, version: string): string {
  const names = registry
    .inGroupVersion(group, version)
    .map((rt) => `${rt.plural}:${rt.kind}:${rt.namespaced}`)
    .sort()
    .join(',');
  return createHash('sha256').update(names).digest('hex').slice(0, 32).toUpperCase();
}

export function openapiRoot(registry: Registry): Record<string, unknown> {
  const paths: Record<string, unknown> = {};
  for (const [g, v] of gvList(registry)) {
    paths[gvPath(g, v)] = { serverRelativeURL: `/openapi/v3/${gvPath(g, v)}?hash=${hashOf(registry, g, v)}` };
  }
  return { paths };
}

const QUERY_PARAMS = ['dryRun', 'fieldManager', 'fieldValidation', 'force', 'pretty'].map((name) => ({
  name,
  in: 'query',
  schema: { type: name === 'force' ? 'boolean' : 'string', uniqueItems: true },
}));

function patchOperation(rt: ResourceType, version: string): Record<string, unknown> {
  return {
    operationId: `patch${rt.namespaced ? 'Namespaced' : ''}${rt.kind}`,
    parameters: QUERY_PARAMS,
    responses: { '200': { description: 'OK' }, '201': { description: 'Created' } },
    'x-kubernetes-action': 'patch',
    'x-kubernetes-group-version-kind': { group: rt.group, version, kind: rt.kind },
  };
}

/** The document of one group-version, or undefined when nothing is served there. */
export function openapiGroupVersion(
  registry: Registry,
  group: string,
  version: string,
): Record<string, unknown> | undefined {
  const types = registry.inGroupVersion(group, version);
  if (types.length === 0) return undefined;
  const prefix = `/${gvPath(group, version)}`;
  const paths: Record<string, unknown> = {};
  for (const rt of types) {
    const base = rt.namespaced ? `${prefix}/namespaces/{namespace}/${rt.plural}` : `${prefix}/${rt.plural}`;
    paths[`${base}/{name}`] = { patch: patchOperation(rt, version) };
    if (rt.hasStatus) paths[`${base}/{name}/status`] = { patch: patchOperation(rt, version) };
  }
  return {
    openapi: '3.0.0',
    info: { title: 'Kubernetes', version: 'v1.32.0' },
    paths,
    components: { schemas: {} },
    'x-isthmus-sandbox': apiVersionOf(group, version),
  };
}

/** `/openapi/v3/api/v1` → ['', 'v1']; `/openapi/v3/apis/apps/v1` → ['apps', 'v1']. */
export function parseOpenapiPath(pathname: string): [string, string] | undefined {
  const m = /^\/openapi\/v3\/(?:api\/([^/]+)|apis\/([^/]+)\/([^/]+))\/?$/.exec(pathname);
  if (!m) return undefined;
  return m[1] ? ['', m[1]] : [m[2]!, m[3]!];
}

/**
 * Resource requests after authentication: resolve the resource, check scope, subresource and verb
 * (404/405 as kube-apiserver routes them), authorize, then run the verb against the registry
 * operations and shape the answer (object, List, Table, Status; 200/201/202).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { exactNameOf } from '../kube/validation/selectors.js';
import { parseJsonBody } from './admission.js';
import {
  ApiError,
  badRequest,
  methodNotAllowed,
  notFound,
  pathNotFound,
  successStatus,
} from './api-status.js';
import type { Auth, Principal } from './auth.js';
import { listEnvelope, listObjects, matches, parseSelectors, validateListOptions } from './list.js';
import { asPartialObjectMetadata, asPartialObjectMetadataList, negotiate } from './negotiation.js';
import { servedView } from './object-meta.js';
import { patchObject } from './patch-ops.js';
import { type PodLogSources, parseLogOptions, resolveLogSource, servePodLog } from './pod-logs.js';
import { podLocation, proxyToPod } from './pod-proxy.js';
import { escalationGuard } from './rbac-escalation.js';
import type { Registry } from './registry.js';
import type { ResourcePath } from './request-info.js';
import { verbFor } from './request-info.js';
import { groupResource, gvkOf, type ResourceType, resourceKey, type Verb } from './resource-types.js';
import type { DeleteOptions, RestOps } from './rest-ops.js';
import { handleScale, hasScale } from './scale.js';
import {
  finalizeNamespace,
  selfSubjectAccessReview,
  subjectAccessReview,
  tokenRequest,
  tokenReview,
} from './special-endpoints.js';
import type { KObj } from './store.js';
import { toTable } from './table.js';
import type { WatchHub } from './watch.js';

export interface Reply {
  status: number;
  body: unknown;
  /** RFC 7234 §5.5 Warning texts (kube sends them as `299 - "text"`). */
  warnings?: string[];
}

export interface HandlerDeps {
  registry: Registry;
  ops: RestOps;
  auth: Auth;
  watches: WatchHub;
  countWrite: () => void;
  /** What the kubelet-facing subresources (pods/proxy, pods/log) may reach. */
  pods: { allowLoopback: boolean; logSources: PodLogSources | undefined };
}

/** dryRun=All is the only accepted value (apiserver ValidateDryRun). */
/** fieldValidation: Ignore | Warn (default) | Strict (apiserver ValidateFieldValidation). */
function strictOf(q: URLSearchParams): boolean {
  const v = q.get('fieldValidation');
  if (v !== null && !['Ignore', 'Warn', 'Strict'].includes(v)) {
    throw badRequest(
      `fieldValidation must be one of "Ignore", "Warn", or "Strict", got ${JSON.stringify(v)}`,
    );
  }
  return v === 'Strict';
}

function dryRunOf(q: URLSearchParams): boolean {
  const values = q.getAll('dryRun');
  for (const v of values)
    if (v !== 'All') throw badRequest(`Invalid dryRun value: ${v}. Valid values are: "All"`);
  return values.length > 0;
}

function orphanDependentsFalse(raw: string): boolean {
  try {
    return (JSON.parse(raw) as { orphanDependents?: unknown })?.orphanDependents === false;
  } catch {
    return false;
  }
}

const PROPAGATION = new Set(['Background', 'Foreground', 'Orphan']);

function deleteOptions(q: URLSearchParams, raw: string): DeleteOptions {
  const parsed = raw.trim() ? parseJsonBody(raw) : {};
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw badRequest(
      `json: cannot unmarshal ${JSON.stringify(parsed)} into Go value of type v1.DeleteOptions`,
    );
  }
  const body = parsed as Record<string, unknown>;
  const policy = (q.get('propagationPolicy') ?? body.propagationPolicy) as string | undefined;
  if (policy !== undefined && !PROPAGATION.has(policy)) {
    throw new ApiError(
      422,
      'Invalid',
      `DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: "${policy}": supported values: "Foreground", "Background", "Orphan", "nil"`,
      {},
    );
  }
  if (body.orphanDependents === true && policy === undefined) return { propagationPolicy: 'Orphan' };
  const opts: DeleteOptions = {
    dryRun: dryRunOf(q) || (Array.isArray(body.dryRun) && body.dryRun.includes('All')),
  };
  if (policy) opts.propagationPolicy = policy as DeleteOptions['propagationPolicy'];
  const grace = gracePeriodOf(q.get('gracePeriodSeconds') ?? body.gracePeriodSeconds);
  if (grace !== undefined) opts.gracePeriodSeconds = grace;
  if (body.preconditions && typeof body.preconditions === 'object')
    opts.preconditions = body.preconditions as DeleteOptions['preconditions'];
  return opts;
}

/** DeleteOptions.gracePeriodSeconds, an int64 in the body or the query (kubectl sends it in the body). */
function gracePeriodOf(value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  const n = typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value;
  if (typeof n === 'number' && Number.isSafeInteger(n)) return n;
  throw badRequest(
    typeof value === 'string'
      ? `strconv.ParseInt: parsing ${JSON.stringify(value)}: invalid syntax`
      : `json: cannot unmarshal ${typeof value} into Go struct field DeleteOptions.gracePeriodSeconds of type int64`,
  );
}

/** A watch on an item path (`.../services/web?watch=1`) is a watch with `metadata.name=web` (apiserver watch.go). */
function watchSelectors(rt: ResourceType, q: URLSearchParams, name: string | undefined) {
  const sel = parseSelectors(rt, Object.fromEntries(q));
  if (name !== undefined) sel.fields.push({ field: 'metadata.name', operator: 'Equals', value: name });
  return sel;
}

export function handleResource(
  deps: HandlerDeps,
  req: IncomingMessage,
  res: ServerResponse,
  info: ResourcePath,
  q: URLSearchParams,
  raw: string,
  principal: Principal,
  body: Buffer = Buffer.from(raw),
): Reply | undefined {
  const rt = deps.registry.find(info.group, info.version, info.plural);
  if (!rt) throw pathNotFound();
  if (info.subresource !== undefined) {
    const pods = rt.group === '' && rt.plural === 'pods';
    const ok =
      (pods && (info.subresource === 'proxy' || info.subresource === 'log')) ||
      (info.subresource === 'status' && rt.hasStatus) ||
      (info.subresource === 'scale' && hasScale(rt)) ||
      (info.subresource === 'finalize' && rt.plural === 'namespaces' && rt.group === '') ||
      (info.subresource === 'token' && rt.plural === 'serviceaccounts' && rt.group === '');
    if (!ok || info.name === undefined) throw pathNotFound();
  }
  if (!rt.namespaced && info.namespace !== undefined) throw pathNotFound();
  const verb = verbFor(req.method ?? 'GET', info, q.get('watch') === 'true' || q.get('watch') === '1');
  if (!verb) throw methodNotAllowed(req.method ?? '', groupResource(rt));
  if (info.subresource === 'proxy' && ['list', 'watch', 'deletecollection'].includes(verb))
    throw methodNotAllowed(verb, groupResource(rt));
  if (info.subresource === 'log' && verb !== 'get') throw methodNotAllowed(verb, groupResource(rt));
  // serviceaccounts/token serves create only (TokenRequest).
  if (
    info.subresource === 'token'
      ? verb !== 'create'
      : info.subresource && !['get', 'update', 'patch'].includes(verb) && info.subresource !== 'proxy'
  )
    throw methodNotAllowed(verb, groupResource(rt));
  if (!info.subresource && !rt.verbs.includes(verb as Verb)) throw methodNotAllowed(verb, groupResource(rt));
  // POST is served on collections only.
  if (
    verb === 'create' &&
    info.name !== undefined &&
    info.subresource !== 'proxy' &&
    info.subresource !== 'token'
  )
    throw methodNotAllowed('create', groupResource(rt));
  // Cluster-wide paths of namespaced resources serve list and watch only.
  if (rt.namespaced && info.namespace === undefined && !['list', 'watch'].includes(verb))
    throw pathNotFound();
  deps.auth.authorize(principal, {
    verb,
    group: rt.group,
    resource: rt.plural,
    subresource: info.subresource,
    namespace: rt.namespaced ? info.namespace : undefined,
    name: info.name ?? listedName(verb, q.get('fieldSelector')),
  });
  if (info.subresource === 'proxy') {
    // CONNECT is admitted with the PodProxyOptions as its object.
    const options = {
      kind: 'PodProxyOptions',
      apiVersion: 'v1',
      path: info.proxyPath ?? '/',
    } as unknown as KObj;
    deps.ops.admit(rt, info.version, 'CONNECT', options, null, {
      admission: { user: principal.user },
      subresource: 'proxy',
      name: info.name,
      namespace: info.namespace,
      kind: { group: '', version: 'v1', kind: 'PodProxyOptions' },
    });
    const location = podLocation(deps.ops.store, info.namespace!, info.name!, deps.pods.allowLoopback);
    void proxyToPod(req, res, location, info.proxyPath ?? '/', q, body);
    return undefined;
  }
  if (info.subresource === 'log') {
    const opts = parseLogOptions(q);
    const source = resolveLogSource(deps.ops.store, info.namespace!, info.name!, opts, deps.pods.logSources);
    void servePodLog(res, source, opts);
    return undefined;
  }
  // Negotiated before anything is written: a 406 changes nothing.
  const answer = negotiate(req.headers.accept, verb === 'list' || verb === 'deletecollection', rt.kind);
  if (['create', 'update', 'patch', 'delete', 'deletecollection'].includes(verb)) deps.countWrite();
  const { ops } = deps;
  const v = info.version;
  const ns = rt.namespaced ? info.namespace : undefined;
  const metadataOnly = answer.shape === 'PartialObjectMetadata';
  const served = (o: KObj) =>
    metadataOnly ? asPartialObjectMetadata(servedView(rt, o, v), answer.apiVersion) : servedView(rt, o, v);
  const table = answer.shape === 'Table';
  const gvk = gvkOf(rt);
  const warnings: string[] | undefined = q.get('fieldValidation') === 'Ignore' ? undefined : [];
  // Validating admission policies' Warn failures are sent whatever fieldValidation says.
  const admission = { user: principal.user, warnings: [] as string[] };
  const guard = ['create', 'update', 'patch'].includes(verb)
    ? escalationGuard(ops.store, deps.auth, principal, rt, ns, info.name)
    : undefined;
  const allWarnings = () => [...(warnings ?? []), ...admission.warnings];
  if (info.subresource === 'scale') {
    const contentType = req.headers['content-type'] ?? '';
    const scale = handleScale(ops, rt, v, ns, info.name!, verb as 'get', contentType, raw, admission);
    return { status: 200, body: metadataOnly ? asPartialObjectMetadata(scale, answer.apiVersion) : scale };
  }
  switch (verb) {
    case 'get': {
      const o = ops.store.get(resourceKey(rt.group, rt.plural), ns, info.name!);
      if (!o) throw notFound(groupResource(rt), info.name!);
      if (table)
        return {
          status: 200,
          body: toTable(rt, v, gvk, [served(o)], q.get('includeObject'), {
            resourceVersion: o.metadata.resourceVersion,
          }),
        };
      return { status: 200, body: served(o) };
    }
    case 'list': {
      const r = listObjects(ops.store, rt, v, ns, Object.fromEntries(q));
      if (table) {
        const meta: Record<string, unknown> = { resourceVersion: r.resourceVersion };
        if (r.continue) meta.continue = r.continue;
        const full = r.items.map((o) => served(o));
        return { status: 200, body: toTable(rt, v, gvk, full, q.get('includeObject'), meta) };
      }
      const envelope = listEnvelope(rt, v, r);
      if (answer.shape === 'PartialObjectMetadataList') {
        const body = asPartialObjectMetadataList(r.items, envelope.metadata, answer.apiVersion);
        return { status: 200, body };
      }
      return { status: 200, body: envelope };
    }
    case 'watch': {
      if (q.get('sendInitialEvents') === null) validateListOptions(Object.fromEntries(q), true);
      const timeout = q.get('timeoutSeconds');
      let first = true;
      deps.watches.serve(res, {
        rt,
        version: v,
        namespace: ns,
        selectors: watchSelectors(rt, q, info.name),
        resourceVersion: q.get('resourceVersion') ?? undefined,
        allowBookmarks: q.get('allowWatchBookmarks') === 'true',
        timeoutSeconds: timeout ? Number(timeout) : undefined,
        ...(table
          ? {
              encode: (o: KObj) => {
                const t = toTable(
                  rt,
                  v,
                  gvk,
                  [o],
                  q.get('includeObject'),
                  { resourceVersion: o.metadata.resourceVersion },
                  first,
                );
                first = false;
                return t;
              },
            }
          : {}),
        ...(metadataOnly
          ? {
              encode: (o: KObj) => asPartialObjectMetadata(o, answer.apiVersion),
              bookmark: (resourceVersion: string) =>
                asPartialObjectMetadata({ metadata: { resourceVersion } } as KObj, answer.apiVersion),
            }
          : {}),
      });
      return undefined;
    }
    case 'create': {
      if (info.subresource === 'token') return tokenRequest(deps, ns!, info.name!, raw, admission);
      if (rt.group === 'authentication.k8s.io' && rt.plural === 'tokenreviews') return tokenReview(deps, raw);
      if (rt.group === 'authorization.k8s.io' && rt.plural === 'subjectaccessreviews')
        return subjectAccessReview(deps, raw);
      if (rt.group === 'authorization.k8s.io' && rt.plural === 'selfsubjectaccessreviews')
        return selfSubjectAccessReview(deps, raw, principal);
      const obj = ops.create(rt, v, ns, parseJsonBody(raw), {
        dryRun: dryRunOf(q),
        strictFields: strictOf(q),
        warnings,
        admission,
        guard,
      });
      return { status: 201, body: served(obj), warnings: allWarnings() };
    }
    case 'update': {
      if (info.subresource === 'finalize') return finalizeNamespace(deps, rt, info.name!, raw, admission);
      const sub = info.subresource === 'status' ? 'status' : undefined;
      const r = ops.update(rt, v, ns, info.name!, parseJsonBody(raw), {
        dryRun: dryRunOf(q),
        strictFields: strictOf(q),
        subresource: sub,
        fieldManager: q.get('fieldManager') ?? undefined,
        warnings,
        admission,
        guard,
        uidPrecondition: true,
      });
      return { status: r.created ? 201 : 200, body: served(r.obj), warnings: allWarnings() };
    }
    case 'patch': {
      const sub = info.subresource === 'status' ? 'status' : undefined;
      const r = patchObject(ops, rt, v, ns, info.name!, req.headers['content-type'] ?? '', raw, {
        dryRun: dryRunOf(q),
        strictFields: strictOf(q),
        subresource: sub,
        fieldManager: q.get('fieldManager') ?? undefined,
        warnings,
        admission,
        guard,
      });
      return { status: r.created ? 201 : 200, body: served(r.obj), warnings: allWarnings() };
    }
    case 'delete': {
      const r = ops.delete(rt, ns, info.name!, { ...deleteOptions(q, raw), admission });
      // delete.go answers 202 for a pending deletion only when orphanDependents=false was sent
      // (kept for old clients); namespace, finalizer and foreground deletions are 200.
      if (!r.deleted)
        return {
          status: orphanDependentsFalse(raw) ? 202 : 200,
          body: served(r.obj),
          warnings: admission.warnings,
        };
      if (rt.returnDeletedObject) return { status: 200, body: served(r.obj), warnings: admission.warnings };
      return {
        warnings: admission.warnings,
        status: 200,
        body: successStatus({
          name: info.name!,
          ...(rt.group ? { group: rt.group } : {}),
          kind: rt.plural,
          uid: r.obj.metadata.uid!,
        }),
      };
    }
    case 'deletecollection': {
      const opts = { ...deleteOptions(q, raw), admission };
      const sel = parseSelectors(rt, Object.fromEntries(q));
      const items: KObj[] = [];
      for (const o of ops.store.list(resourceKey(rt.group, rt.plural), ns)) {
        if (!matches(sel, o)) continue;
        try {
          items.push(served(ops.delete(rt, o.metadata.namespace, o.metadata.name!, opts).obj));
        } catch (err) {
          if (!(err instanceof ApiError && err.code === 404)) throw err;
        }
      }
      const envelope = listEnvelope(rt, v, { items, resourceVersion: String(ops.store.currentRv()) });
      if (answer.shape === 'PartialObjectMetadataList')
        return {
          status: 200,
          body: asPartialObjectMetadataList(items, envelope.metadata, answer.apiVersion),
          warnings: admission.warnings,
        };
      return { status: 200, body: envelope, warnings: admission.warnings };
    }
    default:
      throw methodNotAllowed(verb, groupResource(rt));
  }
}

/**
 * RequestInfoFactory: a list or watch whose field selector pins `metadata.name` is authorized as a
 * request for that name (a valid path segment only), as the kubelet's single-Secret watches are.
 */
function listedName(verb: string, fieldSelector: string | null): string | undefined {
  if (verb !== 'list' && verb !== 'watch') return undefined;
  const name = exactNameOf(fieldSelector);
  return name === undefined || name === '' || name === '.' || name === '..' || /[/%]/.test(name)
    ? undefined
    : name;
}

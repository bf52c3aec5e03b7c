/**
 * The write path of the generic registry (k8s.io/apiserver `registry/generic/registry/store.go` and
 * `registry/rest/{create,update,delete}.go`): type-meta and namespace checks, system fields,
 * defaulting, validation, optimistic concurrency, status subresource, no-op detection, finalizers.
 * Every function throws ApiError with the Status kube-apiserver would send.
 */
import { randomUUID } from 'node:crypto';
import { invalid } from '../kube/validation/field-errors.js';
import { jsonEqual } from '../kube/validation/json-values.js';
import { validateServiceStatus } from '../kube/validation/service.js';
import { admitNamespace, decodeBody } from './admission.js';
import {
  type AdmissionContext,
  attributesFor,
  type ValidatingAdmissionPolicies,
  type WriteRequest,
} from './admission-policy.js';
import type { AdmissionOperation } from './admission-policy-match.js';
import {
  ApiError,
  alreadyExists,
  badRequest,
  conflict,
  forbidden,
  invalidObject,
  notFound,
  staleConflict,
} from './api-status.js';
import { decodeBuiltinFields } from './builtin-fields.js';
import {
  applyDefaults,
  carryAllocatedValues,
  dropLoadBalancerStatus,
  dropTypeDependentFields,
  initialStatus,
} from './kind-defaults.js';
import { asStored, generateName, kubeNow, specPart, withoutFinalizer } from './object-meta.js';
import { pruneCustomResource, validateWrite, type WriteValidationOptions } from './object-validation.js';
import { deletesGracefully, deletionStep } from './pod-deletion.js';
import type { WriteGuard } from './rbac-escalation.js';
import type { Registry } from './registry.js';
import { groupResource, gvkOf, type ResourceType, resourceKey } from './resource-types.js';
import type { ServiceAllocations } from './service-allocations.js';
import type { KObj, ObjectStore } from './store.js';

export interface WriteOptions {
  dryRun?: boolean;
  /** `fieldValidation=Strict`: unknown (pruned) fields of a custom resource are a 400. */
  strictFields?: boolean;
  /** Collects `Warning` headers (fieldValidation=Warn, the default: dropped unknown fields). */
  warnings?: string[];
  /** `fieldManager` query parameter (required for server-side apply). */
  fieldManager?: string | undefined;
  subresource?: 'status' | undefined;
  /** Who asks, for validating admission policies; absent for kube-apiserver's own writes. */
  admission?: AdmissionContext | undefined;
  /**
   * The policy-based storage's check of the request's user (RBAC escalation prevention), run on
   * the decoded object before validation: after NamespaceLifecycle on a create, on the updated
   * object over the stored one on an update. Absent for kube-apiserver's own writes.
   */
  guard?: WriteGuard | undefined;
  /**
   * A PUT: the body's uid, if any, is a precondition (DefaultUpdatedObjectInfo.Preconditions), so
   * an object deleted and made again, or gone, is a 409 rather than a create or a 422. A PATCH's
   * object has none (its uid change is ValidateObjectMetaUpdate's 422).
   */
  uidPrecondition?: boolean;
}

export interface DeleteOptions {
  propagationPolicy?: 'Background' | 'Foreground' | 'Orphan';
  preconditions?: { uid?: string; resourceVersion?: string };
  dryRun?: boolean;
  /** Only Pods delete gracefully (pod-deletion.ts); other kinds ignore it, as kube-apiserver does. */
  gracePeriodSeconds?: number;
  /** Who asks, for validating admission policies; absent for kube-apiserver's own writes. */
  admission?: AdmissionContext | undefined;
}

export interface DeleteResult {
  obj: KObj;
  /** false while finalizers hold the object (deletionTimestamp set, object still stored). */
  deleted: boolean;
}

/** Namespaces kube-apiserver refuses to delete (NamespaceLifecycle immortal namespaces). */
const IMMORTAL_NAMESPACES = new Set(['default', 'kube-system', 'kube-public']);

/**
 * etcd's default --max-request-bytes. kube-apiserver takes bodies up to 3 MiB (its JSON may shrink
 * to protobuf), but an object larger than this once stored is refused by etcd, and the API server
 * passes that on as a 500 (kubernetes#112152). Measured here on the stored JSON.
 */
export const MAX_STORED_BYTES = 1.5 * 1024 * 1024;

function storable(obj: KObj): KObj {
  if (JSON.stringify(obj).length > MAX_STORED_BYTES) {
    throw new ApiError(500, 'InternalError', 'etcdserver: request is too large');
  }
  return obj;
}

export class RestOps {
  constructor(
    readonly store: ObjectStore,
    readonly registry: Registry,
    private readonly services: ServiceAllocations,
    private readonly validation: WriteValidationOptions,
    /** The ValidatingAdmissionPolicy plugin: runs after validation, before every write. */
    private readonly policies?: ValidatingAdmissionPolicies,
  ) {}

  /** Validating admission of a write about to happen; a denial throws. Cheap when no policy applies. */
  admit(
    rt: ResourceType,
    version: string,
    operation: AdmissionOperation,
    obj: KObj | null,
    old: KObj | null,
    w: WriteRequest,
    name?: string,
  ): void {
    if (w.admission?.admitted || !this.policies?.covers(rt.group, rt.plural)) return;
    const request = name === undefined ? w : { ...w, name };
    this.policies.admit(attributesFor(rt, version, operation, obj, old, request), w.admission?.warnings);
  }

  /** A controller's update of a stored object, admitted as the controller's user first. */
  controllerUpdate(
    rt: ResourceType,
    next: KObj,
    old: KObj,
    admission: AdmissionContext,
    subresource?: string,
  ): KObj {
    this.admit(rt, rt.storageVersion, 'UPDATE', next, old, { admission, subresource });
    return this.store.put(resourceKey(rt.group, rt.plural), next);
  }

  private fail(rt: ResourceType, obj: KObj, causes: ReturnType<typeof validateWrite>): void {
    if (causes.length > 0) throw invalidObject(rt.kind, rt.group, obj.metadata.name ?? '', causes);
  }

  create(
    rt: ResourceType,
    version: string,
    namespace: string | undefined,
    body: unknown,
    opts: WriteOptions = {},
  ): KObj {
    let obj = decodeBody(rt, version, namespace, body);
    if (!rt.crd) warnUnknown(opts, decodeBuiltinFields(gvkOf(rt), rt.kind, obj, opts.strictFields ?? false));
    const m = obj.metadata;
    if (m.resourceVersion) throw badRequest('resourceVersion should not be set on objects to be created');
    const requestedName = m.name ?? '';
    if (!m.name && m.generateName) m.name = generateName(m.generateName);
    admitNamespace(this.store, rt, m.namespace, m.name);
    opts.guard?.(obj, null);
    const crdTerminating = rt.crd && this.isCrdTerminating(rt);
    if (crdTerminating) {
      throw new ApiError(
        405,
        'MethodNotAllowed',
        `create not allowed while custom resource definition is terminating`,
        {},
      );
    }
    m.uid = randomUUID();
    m.creationTimestamp = kubeNow();
    delete m.deletionTimestamp;
    delete m.deletionGracePeriodSeconds;
    if (rt.tracksGeneration) m.generation = 1;
    else delete m.generation;
    const gvk = gvkOf(rt);
    if (rt.hasStatus || !rt.crd) initialStatus(gvk, obj);
    applyDefaults(gvk, obj);
    obj = pruneCustomResource(rt, version, obj, opts.strictFields, opts.warnings);
    if (gvk === 'v1/Service') this.fail(rt, obj, this.services.settleFamilies(obj, undefined));
    this.fail(rt, obj, validateWrite(rt, version, obj, undefined, this.validation));
    this.admit(rt, version, 'CREATE', obj, null, opts, requestedName);
    const key = resourceKey(rt.group, rt.plural);
    if (this.store.get(key, m.namespace, m.name!)) throw alreadyExists(groupResource(rt), m.name!);
    if (gvk === 'v1/Service') {
      this.fail(rt, obj, this.services.allocate(obj, undefined));
      if (opts.dryRun) this.services.release(obj);
    }
    asStored(rt, obj);
    return opts.dryRun ? obj : this.store.put(key, storable(obj));
  }

  private isCrdTerminating(rt: ResourceType): boolean {
    const crd = this.store.get(
      resourceKey('apiextensions.k8s.io', 'customresourcedefinitions'),
      undefined,
      rt.crd!.name,
    );
    return Boolean(crd?.metadata.deletionTimestamp);
  }

  /** PUT (and the tail of PATCH). Returns whether the object was created (201). */
  update(
    rt: ResourceType,
    version: string,
    namespace: string | undefined,
    name: string,
    body: unknown,
    opts: WriteOptions = {},
  ): { obj: KObj; created: boolean } {
    const input = decodeBody(rt, version, namespace, body);
    if (!rt.crd)
      warnUnknown(opts, decodeBuiltinFields(gvkOf(rt), rt.kind, input, opts.strictFields ?? false));
    if (input.metadata.name !== name) {
      throw badRequest(
        `the name of the object (${input.metadata.name ?? ''}) does not match the name on the URL (${name})`,
      );
    }
    const key = resourceKey(rt.group, rt.plural);
    const old = this.store.get(key, namespace, name);
    const uid = input.metadata.uid;
    if (opts.uidPrecondition && uid && uid !== old?.metadata.uid && (old || rt.allowCreateOnUpdate)) {
      throw conflict(
        groupResource(rt),
        name,
        `Precondition failed: UID in precondition: ${uid}, UID in object meta: ${old?.metadata.uid ?? ''}`,
      );
    }
    if (!old) {
      if (rt.allowCreateOnUpdate && !opts.subresource) {
        const bodyCopy = structuredClone(input);
        delete bodyCopy.metadata.resourceVersion;
        return { obj: this.create(rt, version, namespace, bodyCopy, opts), created: true };
      }
      throw notFound(groupResource(rt), name);
    }
    const rv = input.metadata.resourceVersion;
    if (rv !== undefined && rv !== '' && !/^\d+$/.test(String(rv))) {
      throw badRequest(`invalid resource version: ${JSON.stringify(rv)}`);
    }
    if (rv !== undefined && rv !== '' && rv !== old.metadata.resourceVersion)
      throw staleConflict(groupResource(rt), name);
    if ((rv === undefined || rv === '') && !rt.allowUnconditionalUpdate) {
      throw invalidObject(rt.kind, rt.group, name, [
        invalid('metadata.resourceVersion', '0x0', 'must be specified for an update'),
      ]);
    }
    let obj: KObj;
    if (opts.subresource === 'status') {
      // Status strategy: only .status comes from the request (ResetObjectMetaForStatus keeps the rest).
      obj = structuredClone(old);
      if (input.status === undefined) delete obj.status;
      else obj.status = input.status;
      applyDefaults(gvkOf(rt), obj);
    } else {
      obj = input;
      if (rt.hasStatus) {
        if (old.status === undefined) delete obj.status;
        else obj.status = structuredClone(old.status);
      }
      const m = obj.metadata;
      m.uid ||= old.metadata.uid;
      m.creationTimestamp = old.metadata.creationTimestamp;
      if (old.metadata.deletionTimestamp) {
        m.deletionTimestamp = old.metadata.deletionTimestamp;
        m.deletionGracePeriodSeconds = old.metadata.deletionGracePeriodSeconds;
      } else {
        delete m.deletionTimestamp;
        delete m.deletionGracePeriodSeconds;
      }
      if (old.metadata.generation !== undefined) m.generation = old.metadata.generation;
      else delete m.generation;
      const gvk = gvkOf(rt);
      // Namespace spec.finalizers change only through /finalize (namespace strategy PrepareForUpdate).
      if (gvk === 'v1/Namespace') obj.spec = structuredClone(old.spec);
      dropTypeDependentFields(gvk, obj, old);
      carryAllocatedValues(gvk, obj, old);
      applyDefaults(gvk, obj);
      dropLoadBalancerStatus(gvk, obj);
      obj = pruneCustomResource(rt, version, obj, opts.strictFields, opts.warnings);
    }
    obj.metadata.resourceVersion = old.metadata.resourceVersion;
    asStored(rt, obj);
    const service = gvkOf(rt) === 'v1/Service' && !opts.subresource;
    opts.guard?.(obj, old);
    if (service) this.fail(rt, obj, this.services.settleFamilies(obj, old));
    this.fail(rt, obj, validateWrite(rt, version, obj, old, this.validation));
    if (gvkOf(rt) === 'v1/Service' && opts.subresource === 'status')
      this.fail(rt, obj, validateServiceStatus(obj));
    if (service) this.fail(rt, obj, this.services.allocate(obj, old));
    if (rt.tracksGeneration && !jsonEqual(specPart(obj), specPart(old))) {
      obj.metadata.generation = (old.metadata.generation ?? 0) + 1;
    }
    this.admit(rt, version, 'UPDATE', obj, old, opts);
    // An update that changes nothing is not written (GuaranteedUpdate compares bytes): no new RV, no event.
    if (jsonEqual(obj, old)) return { obj: old, created: false };
    if (opts.dryRun) return { obj, created: false };
    if (isDeletable(rt, obj)) {
      return { obj: this.removeNow(rt, obj), created: false };
    }
    return { obj: this.store.put(key, storable(obj)), created: false };
  }

  delete(
    rt: ResourceType,
    namespace: string | undefined,
    name: string,
    opts: DeleteOptions = {},
  ): DeleteResult {
    const key = resourceKey(rt.group, rt.plural);
    const gr = groupResource(rt);
    const old = this.store.get(key, namespace, name);
    if (!old) throw notFound(gr, name);
    const pre = opts.preconditions ?? {};
    if (pre.uid && pre.uid !== old.metadata.uid) {
      throw conflict(
        gr,
        name,
        `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${old.metadata.uid}`,
      );
    }
    if (pre.resourceVersion && pre.resourceVersion !== old.metadata.resourceVersion) {
      throw conflict(
        gr,
        name,
        `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${old.metadata.resourceVersion}`,
      );
    }
    if (rt.group === '' && rt.plural === 'namespaces' && IMMORTAL_NAMESPACES.has(name)) {
      throw forbidden(gr, name, 'this namespace may not be deleted');
    }
    const obj = structuredClone(old);
    if (deletesGracefully(rt.group, rt.plural)) {
      const step = deletionStep(old, opts.gracePeriodSeconds, new Date());
      // A pending graceful deletion changes nothing, finalizers included (store.go's errAlreadyDeleting).
      if (step.kind === 'pending') return { obj: old, deleted: false };
      if (step.kind === 'graceful') {
        if (!old.metadata.deletionTimestamp) bumpGeneration(obj);
        obj.metadata.deletionTimestamp = step.deletionTimestamp;
        obj.metadata.deletionGracePeriodSeconds = step.grace;
      }
    }
    this.admit(rt, rt.storageVersion, 'DELETE', null, old, opts);
    const finalizers = [...(obj.metadata.finalizers ?? [])];
    if (opts.propagationPolicy === 'Foreground' && !finalizers.includes('foregroundDeletion')) {
      finalizers.push('foregroundDeletion');
    }
    if (opts.propagationPolicy === 'Orphan' && !finalizers.includes('orphan')) finalizers.push('orphan');
    const isNamespace = rt.group === '' && rt.plural === 'namespaces';
    const nsFinalizers = isNamespace
      ? ((obj.spec as { finalizers?: string[] } | undefined)?.finalizers ?? [])
      : [];
    const graceLeft = (obj.metadata.deletionGracePeriodSeconds ?? 0) > 0;
    if (finalizers.length === 0 && nsFinalizers.length === 0 && !graceLeft) {
      if (opts.dryRun) return { obj, deleted: true };
      return { obj: this.removeNow(rt, obj), deleted: true };
    }
    obj.metadata.finalizers = finalizers.length > 0 ? finalizers : undefined;
    if (!obj.metadata.finalizers) delete obj.metadata.finalizers;
    // markAsDeleting: the first deletionTimestamp bumps a tracked generation (controllers see a change).
    if (!obj.metadata.deletionTimestamp) bumpGeneration(obj);
    obj.metadata.deletionTimestamp ??= kubeNow();
    obj.metadata.deletionGracePeriodSeconds ??= 0;
    if (isNamespace) obj.status = { ...(obj.status as object), phase: 'Terminating' };
    if (jsonEqual(obj, old)) return { obj: old, deleted: false };
    if (opts.dryRun) return { obj, deleted: false };
    return { obj: this.store.put(key, obj), deleted: false };
  }

  /** Controller write: drops one finalizer; the object goes away when nothing holds it any more. */
  releaseFinalizer(rt: ResourceType, obj: KObj, finalizer: string, admission: AdmissionContext): void {
    const next = withoutFinalizer(obj, finalizer);
    this.admit(rt, rt.storageVersion, 'UPDATE', next, obj, { admission });
    if (isDeletable(rt, next)) this.removeNow(rt, next);
    else this.store.put(resourceKey(rt.group, rt.plural), next);
  }

  /** Removes an object from storage and releases what its REST storage allocated. */
  removeNow(rt: ResourceType, obj: KObj): KObj {
    const gone = this.store.remove(
      resourceKey(rt.group, rt.plural),
      obj.metadata.namespace,
      obj.metadata.name!,
    );
    if (gvkOf(rt) === 'v1/Service') this.services.release(obj);
    return gone ?? obj;
  }
}

function warnUnknown(opts: WriteOptions, paths: string[]): void {
  opts.warnings?.push(...paths.map((p) => `unknown field ${JSON.stringify(p)}`));
}

function bumpGeneration(obj: KObj): void {
  if ((obj.metadata.generation ?? 0) > 0) obj.metadata.generation = (obj.metadata.generation ?? 0) + 1;
}

/**
 * Deletion has started and nothing holds the object any more: no finalizer, and no grace left for a
 * kubelet to use (store.go ShouldDeleteDuringUpdate: a terminating Pod goes with its kubelet's delete).
 */
function isDeletable(rt: ResourceType, obj: KObj): boolean {
  if (!obj.metadata.deletionTimestamp || (obj.metadata.deletionGracePeriodSeconds ?? 0) > 0) return false;
  return isFinalized(rt, obj);
}

/** No finalizer holds the object any more (a namespace also waits for its spec.finalizers). */
export function isFinalized(rt: ResourceType, obj: KObj): boolean {
  if ((obj.metadata.finalizers ?? []).length > 0) return false;
  if (rt.group === '' && rt.plural === 'namespaces') {
    return ((obj.spec as { finalizers?: string[] } | undefined)?.finalizers ?? []).length === 0;
  }
  return true;
}

/**
 * ObjectMeta rules of apimachinery `pkg/api/validation/objectmeta.go` and
 * `pkg/apis/meta/v1/validation` (labels), as every kube-apiserver registry strategy applies them.
 */
import {
  child,
  forbidden,
  index,
  invalid,
  required,
  type StatusCause,
  tooLong,
  typeInvalid,
} from './field-errors.js';
import { isRecord } from './json-values.js';
import {
  isDNS1035Label,
  isDNS1123Label,
  isDNS1123Subdomain,
  isQualifiedName,
  isValidLabelValue,
} from './strings.js';

/** `path-segment` is RBAC's rule (ValidateRBACName = path.IsValidPathSegmentName): anything but '/', '%', '.', '..'. */
export type NameRule = 'dns1123-subdomain' | 'dns1123-label' | 'dns1035-label' | 'path-segment';

/** apimachinery TotalAnnotationSizeLimitB. */
export const TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024;

function pathSegmentErrors(name: string): string[] {
  if (name === '.' || name === '..') return [`may not be '${name}'`];
  const errs: string[] = [];
  for (const illegal of ['/', '%']) {
    if (name.includes(illegal)) errs.push(`may not contain '${illegal}'`);
  }
  return errs;
}

/**
 * The messages of a name rule. With `prefix` (a generateName), a trailing '-' is allowed, as
 * kube's NameIsDNS* functions mask it.
 */
export function nameErrors(name: string, rule: NameRule, prefix = false): string[] {
  const value = prefix && name.endsWith('-') ? `${name.slice(0, -1)}a` : name;
  switch (rule) {
    case 'dns1123-subdomain':
      return isDNS1123Subdomain(value);
    case 'dns1123-label':
      return isDNS1123Label(value);
    case 'dns1035-label':
      return isDNS1035Label(value);
    case 'path-segment':
      return pathSegmentErrors(name);
  }
}

export function validateName(name: unknown, rule: NameRule, field = 'metadata.name'): StatusCause[] {
  if (name === undefined || name === null || name === '')
    return [required(field, 'name or generateName is required')];
  if (typeof name !== 'string') return [typeInvalid(field, name, 'must be a string')];
  return nameErrors(name, rule).map((msg) => invalid(field, name, msg));
}

/** ValidateLabels: keys are qualified names (error at the map's path), values label values. */
export function validateLabels(labels: unknown, field: string): StatusCause[] {
  if (labels === undefined || labels === null) return [];
  if (!isRecord(labels)) return [typeInvalid(field, labels, 'must be a map of strings')];
  const out: StatusCause[] = [];
  for (const [k, v] of Object.entries(labels)) {
    for (const msg of isQualifiedName(k)) out.push(invalid(field, k, msg));
    if (typeof v !== 'string') {
      out.push(typeInvalid(`${field}[${k}]`, v, 'must be a string'));
      continue;
    }
    for (const msg of isValidLabelValue(v)) out.push(invalid(field, v, msg));
  }
  return out;
}

const SELECTOR_OPERATORS = ['In', 'NotIn', 'Exists', 'DoesNotExist'];

/** ValidateLabelSelectorRequirement: the operator's values rule, the key, then each value. */
function selectorRequirement(e: Record<string, unknown>, path: string): StatusCause[] {
  const out: StatusCause[] = [];
  const values = Array.isArray(e.values) ? e.values : [];
  if (!SELECTOR_OPERATORS.includes(String(e.operator))) {
    out.push(invalid(child(path, 'operator'), e.operator ?? '', 'not a valid selector operator'));
  } else if ((e.operator === 'In' || e.operator === 'NotIn') && values.length === 0) {
    out.push(required(child(path, 'values'), "must be specified when `operator` is 'In' or 'NotIn'"));
  } else if ((e.operator === 'Exists' || e.operator === 'DoesNotExist') && values.length > 0) {
    out.push(
      forbidden(child(path, 'values'), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"),
    );
  }
  const key = String(e.key ?? '');
  for (const msg of isQualifiedName(key)) out.push(invalid(child(path, 'key'), key, msg));
  values.forEach((v, i) => {
    for (const msg of isValidLabelValue(String(v)))
      out.push(invalid(index(child(path, 'values'), i), v, msg));
  });
  return out;
}

/** metav1 ValidateLabelSelector (PodDisruptionBudget, NetworkPolicy); absent is valid. */
export function validateLabelSelector(selector: unknown, field: string): StatusCause[] {
  if (selector === undefined || selector === null) return [];
  if (!isRecord(selector)) return [typeInvalid(field, selector, 'must be an object')];
  const out = validateLabels(selector.matchLabels, child(field, 'matchLabels'));
  const exprs = Array.isArray(selector.matchExpressions) ? selector.matchExpressions : [];
  exprs.forEach((e, i) => {
    if (isRecord(e)) out.push(...selectorRequirement(e, index(child(field, 'matchExpressions'), i)));
  });
  return out;
}

/** ValidateAnnotations: keys are qualified names ignoring case; keys plus values ≤ 256 KiB in total. */
export function validateAnnotations(annotations: unknown, field: string): StatusCause[] {
  if (annotations === undefined || annotations === null) return [];
  if (!isRecord(annotations)) return [typeInvalid(field, annotations, 'must be a map of strings')];
  const out: StatusCause[] = [];
  let size = 0;
  for (const [k, v] of Object.entries(annotations)) {
    for (const msg of isQualifiedName(k.toLowerCase())) out.push(invalid(field, k, msg));
    if (typeof v !== 'string') out.push(typeInvalid(`${field}[${k}]`, v, 'must be a string'));
    else size += Buffer.byteLength(v);
    size += Buffer.byteLength(k);
  }
  if (size > TOTAL_ANNOTATION_SIZE_LIMIT) out.push(tooLong(field, TOTAL_ANNOTATION_SIZE_LIMIT));
  return out;
}

/** Finalizers kube itself understands without a domain prefix. */
const STANDARD_FINALIZERS = new Set(['kubernetes', 'orphan', 'foregroundDeletion']);

function validateFinalizers(finalizers: unknown, field: string, standardOnly: boolean): StatusCause[] {
  if (finalizers === undefined || finalizers === null) return [];
  if (!Array.isArray(finalizers)) return [typeInvalid(field, finalizers, 'must be a list of strings')];
  const out: StatusCause[] = [];
  finalizers.forEach((f, i) => {
    const path = index(field, i);
    if (typeof f !== 'string') {
      out.push(typeInvalid(path, f, 'must be a string'));
      return;
    }
    const errs = isQualifiedName(f);
    for (const msg of errs) out.push(invalid(path, f, msg));
    if (standardOnly && errs.length === 0 && !f.includes('/') && !STANDARD_FINALIZERS.has(f)) {
      out.push(invalid(path, f, 'name is neither a standard finalizer name nor is it fully qualified'));
    }
  });
  if (finalizers.includes('orphan') && finalizers.includes('foregroundDeletion')) {
    out.push(invalid(field, finalizers, 'finalizer orphan and foregroundDeletion cannot be both set'));
  }
  return out;
}

function validateOwnerReferences(refs: unknown, field: string): StatusCause[] {
  if (refs === undefined || refs === null) return [];
  if (!Array.isArray(refs)) return [typeInvalid(field, refs, 'must be a list')];
  const out: StatusCause[] = [];
  const controllers: string[] = [];
  refs.forEach((ref, i) => {
    const path = index(field, i);
    if (!isRecord(ref)) {
      out.push(typeInvalid(path, ref, 'must be an object'));
      return;
    }
    const apiVersion = typeof ref.apiVersion === 'string' ? ref.apiVersion : '';
    const version = apiVersion.includes('/') ? apiVersion.split('/')[1] : apiVersion;
    if (!version) out.push(invalid(child(path, 'apiVersion'), apiVersion, 'version must not be empty'));
    for (const [k, what] of [
      ['kind', 'kind'],
      ['name', 'name'],
      ['uid', 'uid'],
    ] as const) {
      const v = typeof ref[k] === 'string' ? ref[k] : '';
      if (!v) out.push(invalid(child(path, k), v, `${what} must not be empty`));
    }
    if (ref.controller === true) controllers.push(`${ref.kind}/${ref.name}`);
  });
  if (controllers.length > 1) {
    out.push(
      invalid(
        field,
        refs,
        `Only one reference can have Controller set to true. Found "true" in references for ${controllers.join(' and ')}`,
      ),
    );
  }
  return out;
}

export interface ObjectMetaOptions {
  namespaced: boolean;
  nameRule: NameRule;
  /** The create path before the server has turned generateName into a name. */
  generateNameAllowed?: boolean;
  /**
   * Built-in kinds (pkg/apis/core/validation) also require an unqualified finalizer to be one of
   * the standard ones; CRDs and custom resources are checked by apimachinery alone, which only
   * asks for a qualified name (so `customresourcecleanup.apiextensions.k8s.io` is fine there).
   * Default true.
   */
  standardFinalizers?: boolean;
}

/** ValidateObjectMetaAccessor, field paths under `metadata`. */
export function validateObjectMeta(meta: unknown, opts: ObjectMetaOptions): StatusCause[] {
  if (!isRecord(meta)) return [required('metadata')];
  const out: StatusCause[] = [];
  const generateName = meta.generateName;
  if (typeof generateName === 'string' && generateName !== '') {
    for (const msg of nameErrors(generateName, opts.nameRule, true)) {
      out.push(invalid('metadata.generateName', generateName, msg));
    }
  }
  const nameMissing = meta.name === undefined || meta.name === '';
  if (!(nameMissing && opts.generateNameAllowed && typeof generateName === 'string' && generateName !== '')) {
    out.push(...validateName(meta.name, opts.nameRule));
  }
  const ns = meta.namespace;
  if (opts.namespaced) {
    if (ns === undefined || ns === '') out.push(required('metadata.namespace'));
    else if (typeof ns !== 'string') out.push(typeInvalid('metadata.namespace', ns, 'must be a string'));
    else for (const msg of isDNS1123Label(ns)) out.push(invalid('metadata.namespace', ns, msg));
  } else if (ns !== undefined && ns !== '') {
    out.push(forbidden('metadata.namespace', 'not allowed on this type'));
  }
  if (typeof meta.generation === 'number' && meta.generation < 0) {
    out.push(invalid('metadata.generation', meta.generation, 'must be greater than or equal to 0'));
  }
  out.push(...validateLabels(meta.labels, 'metadata.labels'));
  out.push(...validateAnnotations(meta.annotations, 'metadata.annotations'));
  out.push(...validateOwnerReferences(meta.ownerReferences, 'metadata.ownerReferences'));
  out.push(...validateFinalizers(meta.finalizers, 'metadata.finalizers', opts.standardFinalizers ?? true));
  return out;
}

/** ValidateImmutableField's cause. */
export function immutable(field: string, value: unknown): StatusCause {
  return invalid(field, value, 'field is immutable');
}

/**
 * Custom resources against their CRD's structural `openAPIV3Schema`, as apiextensions-apiserver
 * handles them: prune unknown fields, default absent ones, then validate with kube-openapi's
 * validators, whose messages reach the client as `<path> in body should be ...`
 * (`apiextensions-apiserver/pkg/apiserver/validation`, `pkg/apiserver/schema/{pruning,defaulting}`).
 */
import {
  child,
  formatValue,
  index,
  invalid,
  notSupported,
  required,
  type StatusCause,
  tooLong,
  tooMany,
  typeInvalid,
} from '../kube/validation/field-errors.js';
import { cloneJson, isRecord, type JsonObject, jsonEqual } from '../kube/validation/json-values.js';
import { validateName } from '../kube/validation/meta.js';

type Schema = JsonObject;

const asSchema = (s: unknown): Schema | undefined => (isRecord(s) ? s : undefined);
const props = (s: Schema): Record<string, Schema> =>
  isRecord(s.properties) ? (s.properties as Record<string, Schema>) : {};
const preservesUnknown = (s: Schema): boolean => s['x-kubernetes-preserve-unknown-fields'] === true;
const isEmbedded = (s: Schema): boolean => s['x-kubernetes-embedded-resource'] === true;
const nullable = (s: Schema): boolean => s.nullable === true;

/** The JSON type kube-openapi reports for a value; whole numbers count as integers. */
function typeName(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  if (typeof v === 'object') return 'object';
  return typeof v; // string | boolean
}

function typeMatches(type: string, v: unknown): boolean {
  const actual = typeName(v);
  return actual === type || (type === 'number' && actual === 'integer');
}

/** Path as it appears inside kube-openapi messages ("spec.gatewayPort"). */
const name = (path: string): string => path || '.';

function validateNode(s: Schema, v: unknown, path: string, out: StatusCause[]): void {
  if (v === null || v === undefined) {
    if (!nullable(s) && typeof s.type === 'string') {
      out.push(typeInvalid(path, 'null', `${name(path)} in body must be of type ${s.type}: "null"`));
    }
    return;
  }
  if (s['x-kubernetes-int-or-string'] === true) {
    if (!typeMatches('integer', v) && typeof v !== 'string') {
      out.push(
        typeInvalid(
          path,
          typeName(v),
          `${name(path)} in body must be of type integer,string: ${JSON.stringify(typeName(v))}`,
        ),
      );
      return;
    }
  } else if (typeof s.type === 'string' && !typeMatches(s.type, v)) {
    out.push(
      typeInvalid(
        path,
        typeName(v),
        `${name(path)} in body must be of type ${s.type}: ${JSON.stringify(typeName(v))}`,
      ),
    );
    return;
  }
  if (Array.isArray(s.enum) && !s.enum.some((e) => jsonEqual(e, v))) {
    out.push(
      notSupported(
        path,
        v,
        s.enum.map((e) => (typeof e === 'string' ? e : JSON.stringify(e))),
      ),
    );
  }
  if (typeof v === 'number') validateNumber(s, v, path, out);
  if (typeof v === 'string') validateString(s, v, path, out);
  if (Array.isArray(v)) validateArray(s, v, path, out);
  if (isRecord(v)) validateObject(s, v, path, out);
  validateCombinators(s, v, path, out);
}

function validateNumber(s: Schema, v: number, path: string, out: StatusCause[]): void {
  if (typeof s.maximum === 'number') {
    if (s.exclusiveMaximum === true ? v >= s.maximum : v > s.maximum) {
      const rel = s.exclusiveMaximum === true ? 'less than' : 'less than or equal to';
      out.push(invalid(path, v, `${name(path)} in body should be ${rel} ${s.maximum}`));
    }
  }
  if (typeof s.minimum === 'number') {
    if (s.exclusiveMinimum === true ? v <= s.minimum : v < s.minimum) {
      const rel = s.exclusiveMinimum === true ? 'greater than' : 'greater than or equal to';
      out.push(invalid(path, v, `${name(path)} in body should be ${rel} ${s.minimum}`));
    }
  }
  if (typeof s.multipleOf === 'number' && s.multipleOf > 0 && !Number.isInteger(v / s.multipleOf)) {
    out.push(invalid(path, v, `${name(path)} in body should be a multiple of ${s.multipleOf}`));
  }
  // int32 / int64 formats: JSON integers within range (the decoder keeps int64).
  if (s.format === 'int32' && Number.isInteger(v) && (v < -(2 ** 31) || v > 2 ** 31 - 1)) {
    out.push(invalid(path, v, `${name(path)} in body must be of type int32: ${formatValue(String(v))}`));
  }
}

/** Length in Unicode code points, as Go's utf8.RuneCountInString. */
const runeLength = (v: string): number => [...v].length;

function validateString(s: Schema, v: string, path: string, out: StatusCause[]): void {
  if (typeof s.maxLength === 'number' && runeLength(v) > s.maxLength) out.push(tooLong(path, s.maxLength));
  if (typeof s.minLength === 'number' && runeLength(v) < s.minLength) {
    out.push(invalid(path, v, `${name(path)} in body should be at least ${s.minLength} chars long`));
  }
  if (typeof s.pattern === 'string') {
    let re: RegExp | undefined;
    try {
      re = new RegExp(s.pattern, 'u');
    } catch {
      re = undefined; // a CRD with a bad pattern is refused at CRD creation; nothing to check here
    }
    if (re && !re.test(v)) out.push(invalid(path, v, `${name(path)} in body should match '${s.pattern}'`));
  }
}

function validateArray(s: Schema, v: unknown[], path: string, out: StatusCause[]): void {
  if (typeof s.maxItems === 'number' && v.length > s.maxItems) out.push(tooMany(path, v.length, s.maxItems));
  if (typeof s.minItems === 'number' && v.length < s.minItems) {
    out.push(invalid(path, v.length, `${name(path)} in body should have at least ${s.minItems} items`));
  }
  if (s.uniqueItems === true && v.some((x, i) => v.findIndex((y) => jsonEqual(x, y)) !== i)) {
    out.push(invalid(path, v, `${name(path)} in body shouldn't contain duplicates`));
  }
  const items = asSchema(s.items);
  if (items) {
    v.forEach((x, i) => {
      validateNode(items, x, index(path, i), out);
    });
  }
}

function validateObject(s: Schema, v: JsonObject, path: string, out: StatusCause[]): void {
  if (Array.isArray(s.required)) {
    for (const r of s.required)
      if (typeof r === 'string' && !Object.hasOwn(v, r)) out.push(required(child(path, r)));
  }
  const known = props(s);
  const additional = asSchema(s.additionalProperties);
  for (const [k, x] of Object.entries(v)) {
    const ks = known[k] ?? (Object.hasOwn(known, k) ? undefined : additional);
    if (ks) validateNode(ks, x, child(path, k), out);
  }
  if (typeof s.maxProperties === 'number' && Object.keys(v).length > s.maxProperties) {
    out.push(tooMany(path, Object.keys(v).length, s.maxProperties));
  }
  if (typeof s.minProperties === 'number' && Object.keys(v).length < s.minProperties) {
    out.push(
      invalid(
        path,
        Object.keys(v).length,
        `${name(path)} in body should have at least ${s.minProperties} properties`,
      ),
    );
  }
  if (isEmbedded(s)) {
    for (const k of ['apiVersion', 'kind'])
      if (typeof v[k] !== 'string' || v[k] === '') out.push(required(child(path, k)));
    const meta = v.metadata;
    if (isRecord(meta) && meta.name !== undefined)
      out.push(...validateName(meta.name, 'dns1123-subdomain', child(path, 'metadata.name')));
  }
}

function validateCombinators(s: Schema, v: unknown, path: string, out: StatusCause[]): void {
  const branches = (key: string): Schema[] =>
    Array.isArray(s[key]) ? (s[key] as unknown[]).filter(isRecord) : [];
  const errorsOf = (b: Schema): StatusCause[] => {
    const e: StatusCause[] = [];
    validateNode(b, v, path, e);
    return e;
  };
  for (const b of branches('allOf')) out.push(...errorsOf(b));
  const anyOf = branches('anyOf');
  if (anyOf.length && !anyOf.some((b) => errorsOf(b).length === 0)) {
    out.push(invalid(path, v, `${name(path)} in body must validate at least one schema (anyOf)`));
  }
  const oneOf = branches('oneOf');
  if (oneOf.length && oneOf.filter((b) => errorsOf(b).length === 0).length !== 1) {
    out.push(invalid(path, v, `${name(path)} in body must validate one and only one schema (oneOf)`));
  }
  const not = asSchema(s.not);
  if (not && errorsOf(not).length === 0)
    out.push(invalid(path, v, `${name(path)} in body must not validate the schema (not)`));
}

/** Validates a (pruned, defaulted) custom resource; metadata is the caller's (validateObjectMeta). */
export function validateWithSchema(schema: unknown, obj: unknown): StatusCause[] {
  const s = asSchema(schema);
  if (!s) return [];
  const out: StatusCause[] = [];
  if (isRecord(obj)) {
    // apiVersion, kind and metadata are the apiserver's, not the schema's.
    const rest = { ...obj };
    delete rest.metadata;
    validateNode(s, rest, '', out);
  } else validateNode(s, obj, '', out);
  return out;
}

/** Structural pruning: fields the schema does not specify are dropped unless preserved. */
function prune(s: Schema | undefined, v: unknown, root: boolean): unknown {
  if (!s) return v;
  if (Array.isArray(v)) {
    const items = asSchema(s.items);
    return v.map((x) => prune(items, x, false));
  }
  if (!isRecord(v)) return v;
  const known = props(s);
  const additional = asSchema(s.additionalProperties);
  const keepAll = preservesUnknown(s) || s.additionalProperties === true;
  const out: JsonObject = {};
  for (const [k, x] of Object.entries(v)) {
    if ((root || isEmbedded(s)) && (k === 'apiVersion' || k === 'kind' || k === 'metadata')) {
      out[k] = x;
    } else if (Object.hasOwn(known, k)) {
      out[k] = prune(known[k], x, false);
    } else if (additional) {
      out[k] = prune(additional, x, false);
    } else if (keepAll) {
      out[k] = x;
    }
  }
  return out;
}

/**
 * structuraldefaulting.Default, after dropping nulls of non-nullable fields: absent (or such null)
 * properties take their schema default, then defaulting recurses into every value, the defaulted
 * ones included. A missing parent object is never created.
 */
function applyDefaults(s: Schema | undefined, v: unknown): void {
  if (!s) return;
  if (Array.isArray(v)) {
    const items = asSchema(s.items);
    for (const x of v) applyDefaults(items, x);
    return;
  }
  if (!isRecord(v)) return;
  const known = props(s);
  for (const [k, ps] of Object.entries(known)) {
    if (v[k] === null && !nullable(ps)) delete v[k];
    if (!Object.hasOwn(v, k) && ps.default !== undefined) v[k] = cloneJson(ps.default);
  }
  const additional = asSchema(s.additionalProperties);
  for (const [k, x] of Object.entries(v)) {
    if (Object.hasOwn(known, k)) applyDefaults(known[k], x);
    else if (additional) {
      if (x === null && !nullable(additional)) delete v[k];
      else applyDefaults(additional, x);
    }
  }
}

/** Pruning then defaulting, on a copy; apiVersion, kind and metadata at the root are kept as sent. */
export function pruneAndDefault(schema: unknown, obj: unknown): unknown {
  const s = asSchema(schema);
  const copy = cloneJson(obj);
  if (!s) return copy;
  const pruned = prune(s, copy, true);
  applyDefaults(s, pruned);
  return pruned;
}

/**
 * Structural pruning alone, on a copy: what fieldValidation reports as unknown fields. Nulls that
 * defaulting drops are not unknown fields (kube drops them silently, even under Strict).
 */
export function pruneUnknown(schema: unknown, obj: unknown): unknown {
  const s = asSchema(schema);
  const copy = cloneJson(obj);
  return s ? prune(s, copy, true) : copy;
}

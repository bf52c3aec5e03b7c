/**
 * Field errors as kube-apiserver reports them in a 422 Status (apimachinery
 * `pkg/util/validation/field/errors.go`): each cause carries a reason, the field path and the
 * error body (`Invalid value: "x": detail`), so clients that print `field: message` read exactly
 * what they would read from a real cluster.
 */
export interface StatusCause {
  reason:
    | 'FieldValueInvalid'
    | 'FieldValueRequired'
    | 'FieldValueNotSupported'
    | 'FieldValueDuplicate'
    | 'FieldValueTooLong'
    | 'FieldValueTooMany'
    | 'FieldValueForbidden'
    | 'FieldValueTypeInvalid';
  message: string;
  field: string;
}

/**
 * Renders a bad value the way field.Error.ErrorBody does: strings quoted (%q), numbers and booleans
 * bare, null as "null", anything else as compact JSON (Go prints %#v, which no client parses).
 */
export function formatValue(value: unknown): string {
  if (value === null || value === undefined) return '"null"';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value);
  return JSON.stringify(value);
}

function withDetail(body: string, detail: string | undefined): string {
  return detail ? `${body}: ${detail}` : body;
}

export function invalid(field: string, value: unknown, detail?: string): StatusCause {
  return {
    reason: 'FieldValueInvalid',
    field,
    message: withDetail(`Invalid value: ${formatValue(value)}`, detail),
  };
}

/** A value of the wrong JSON type; kube words it as "Invalid value" too. */
export function typeInvalid(field: string, value: unknown, detail?: string): StatusCause {
  return {
    reason: 'FieldValueTypeInvalid',
    field,
    message: withDetail(`Invalid value: ${formatValue(value)}`, detail),
  };
}

export function required(field: string, detail?: string): StatusCause {
  return { reason: 'FieldValueRequired', field, message: withDetail('Required value', detail) };
}

export function forbidden(field: string, detail?: string): StatusCause {
  return { reason: 'FieldValueForbidden', field, message: withDetail('Forbidden', detail) };
}

export function duplicate(field: string, value: unknown): StatusCause {
  return { reason: 'FieldValueDuplicate', field, message: `Duplicate value: ${formatValue(value)}` };
}

/** field.NotSupported: `Unsupported value: "x": supported values: "a", "b"`. */
export function notSupported(field: string, value: unknown, supported: readonly string[]): StatusCause {
  const list = supported.map((s) => JSON.stringify(s)).join(', ');
  return {
    reason: 'FieldValueNotSupported',
    field,
    message: withDetail(
      `Unsupported value: ${formatValue(value)}`,
      list ? `supported values: ${list}` : undefined,
    ),
  };
}

/** field.TooLong: the value itself is omitted from the body, as kube does. */
export function tooLong(field: string, maxLength: number): StatusCause {
  return { reason: 'FieldValueTooLong', field, message: `Too long: may not be more than ${maxLength} bytes` };
}

/** field.TooMany: a list (or map) with more items than allowed. */
export function tooMany(field: string, actual: number, max: number): StatusCause {
  return {
    reason: 'FieldValueTooMany',
    field,
    message: `Too many: ${actual}: must have at most ${max} items`,
  };
}

/** One cause as `field: message`, the form kube joins into a Status message. */
export function causeToString(cause: StatusCause): string {
  return cause.field ? `${cause.field}: ${cause.message}` : cause.message;
}

/**
 * The Status message of a 422 (apimachinery errors.NewInvalid): `Kind "name" is invalid: <aggregate>`,
 * where an aggregate of one error is that error and of several is `[a, b]`.
 */
export function invalidStatusMessage(kind: string, name: string, causes: readonly StatusCause[]): string {
  const parts = causes.map(causeToString);
  const aggregate = parts.length === 1 ? parts[0] : `[${parts.join(', ')}]`;
  return `${kind} ${JSON.stringify(name)} is invalid: ${aggregate}`;
}

/** Field path helpers matching field.Path's String(): `a.b`, `a[0]`, `a[key]`. */
export function child(path: string, name: string): string {
  return path ? `${path}.${name}` : name;
}

export function index(path: string, i: number): string {
  return `${path}[${i}]`;
}

export function key(path: string, k: string): string {
  return `${path}[${k}]`;
}

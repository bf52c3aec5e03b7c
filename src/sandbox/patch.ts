/**
 * The three patch formats kube-apiserver accepts on PATCH: JSON merge patch (RFC 7386), JSON patch
 * (RFC 6902) and strategic merge patch (patch-strategic.ts). Pure: inputs are never mutated.
 */
import { cloneJson, isRecord, jsonEqual } from '../kube/validation/json-values.js';
import { PatchError } from './patch-error.js';

export { PatchError } from './patch-error.js';
export { applyStrategicMergePatch, isStrategicMergeKind } from './patch-strategic.js';

/** RFC 7386 §2: objects merge recursively, null deletes, anything else replaces. */
export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isRecord(patch)) return cloneJson(patch);
  const result: Record<string, unknown> = isRecord(target) ? cloneJson(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete result[k];
    else result[k] = applyMergePatch(result[k], v);
  }
  return result;
}

/** RFC 6901 §4: `~1` is '/', `~0` is '~' (in that order). */
function parsePointer(pointer: string, opIndex: number, member: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) {
    throw new PatchError(
      400,
      `operation ${opIndex}: ${member} ${JSON.stringify(pointer)} is not a JSON pointer`,
    );
  }
  return pointer
    .slice(1)
    .split('/')
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** RFC 6902 §4.1: an array index is `0` or digits without a leading zero; `-` means the end. */
function arrayIndex(token: string, length: number, allowEnd: boolean, path: string): number {
  if (token === '-' && allowEnd) return length;
  if (!/^(0|[1-9][0-9]*)$/.test(token))
    throw new PatchError(
      422,
      `Unable to access invalid index: ${token}: invalid index referenced in ${path}`,
    );
  const i = Number(token);
  if (i > length || (!allowEnd && i === length)) {
    throw new PatchError(422, `Unable to access invalid index: ${i}: invalid index referenced in ${path}`);
  }
  return i;
}

/** The container that holds the last token of `tokens`; the path's parent must exist. */
function parentOf(doc: unknown, tokens: string[], op: string, path: string): unknown {
  let cur = doc;
  for (const t of tokens.slice(0, -1)) {
    if (Array.isArray(cur)) cur = cur[arrayIndex(t, cur.length, false, path)];
    else if (isRecord(cur) && Object.hasOwn(cur, t)) cur = cur[t];
    else
      throw new PatchError(
        422,
        `${op} operation does not apply: doc is missing path: ${JSON.stringify(path)}: missing value`,
      );
  }
  if (!Array.isArray(cur) && !isRecord(cur)) {
    throw new PatchError(
      422,
      `${op} operation does not apply: doc is missing path: ${JSON.stringify(path)}: missing value`,
    );
  }
  return cur;
}

function getAt(doc: unknown, tokens: string[], op: string, path: string): unknown {
  if (tokens.length === 0) return doc;
  const parent = parentOf(doc, tokens, op, path);
  const last = tokens[tokens.length - 1]!;
  if (Array.isArray(parent)) return parent[arrayIndex(last, parent.length, false, path)];
  const obj = parent as Record<string, unknown>;
  if (!Object.hasOwn(obj, last)) {
    throw new PatchError(
      422,
      `${op} operation does not apply: doc is missing path: ${JSON.stringify(path)}: missing value`,
    );
  }
  return obj[last];
}

function addAt(doc: unknown, tokens: string[], value: unknown, path: string, op = 'add'): unknown {
  if (tokens.length === 0) return value;
  const parent = parentOf(doc, tokens, op, path);
  const last = tokens[tokens.length - 1]!;
  if (Array.isArray(parent)) parent.splice(arrayIndex(last, parent.length, true, path), 0, value);
  else (parent as Record<string, unknown>)[last] = value;
  return doc;
}

function removeAt(doc: unknown, tokens: string[], path: string, op = 'remove'): unknown {
  if (tokens.length === 0)
    throw new PatchError(422, `${op} operation does not apply: cannot remove the document root`);
  getAt(doc, tokens, op, path); // existence check with the right message
  const parent = parentOf(doc, tokens, op, path);
  const last = tokens[tokens.length - 1]!;
  if (Array.isArray(parent)) parent.splice(arrayIndex(last, parent.length, false, path), 1);
  else delete (parent as Record<string, unknown>)[last];
  return doc;
}

const OPS = new Set(['add', 'remove', 'replace', 'move', 'copy', 'test']);

/** RFC 6902. A body that is not a list of operations is a 400; an operation that cannot apply is a 422. */
export function applyJsonPatch(target: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops))
    throw new PatchError(400, 'json: cannot unmarshal object into Go value of type jsonpatch.Patch');
  let doc = cloneJson(target);
  ops.forEach((raw, i) => {
    if (!isRecord(raw)) throw new PatchError(400, `operation ${i} is not an object`);
    const op = raw.op;
    if (typeof op !== 'string' || !OPS.has(op)) throw new PatchError(400, `Unexpected kind: ${String(op)}`);
    if (typeof raw.path !== 'string') throw new PatchError(400, `operation ${i} (${op}) is missing path`);
    const path = raw.path;
    const tokens = parsePointer(path, i, 'path');
    const needsValue = op === 'add' || op === 'replace' || op === 'test';
    if (needsValue && !Object.hasOwn(raw, 'value'))
      throw new PatchError(400, `operation ${i} (${op}) is missing value`);
    const needsFrom = op === 'move' || op === 'copy';
    if (needsFrom && typeof raw.from !== 'string')
      throw new PatchError(400, `operation ${i} (${op}) is missing from`);
    switch (op) {
      case 'add':
        doc = addAt(doc, tokens, cloneJson(raw.value), path);
        break;
      case 'remove':
        doc = removeAt(doc, tokens, path);
        break;
      case 'replace':
        if (tokens.length === 0) doc = cloneJson(raw.value);
        else {
          getAt(doc, tokens, 'replace', path);
          doc = removeAt(doc, tokens, path, 'replace');
          doc = addAt(doc, tokens, cloneJson(raw.value), path, 'replace');
        }
        break;
      case 'move': {
        const from = raw.from as string;
        if (path !== from && path.startsWith(`${from}/`)) {
          throw new PatchError(
            422,
            `move operation does not apply: from ${JSON.stringify(from)} is a prefix of path`,
          );
        }
        const fromTokens = parsePointer(from, i, 'from');
        const value = getAt(doc, fromTokens, 'move', from);
        doc = removeAt(doc, fromTokens, from, 'move');
        doc = addAt(doc, tokens, value, path, 'move');
        break;
      }
      case 'copy': {
        const from = raw.from as string;
        const value = getAt(doc, parsePointer(from, i, 'from'), 'copy', from);
        doc = addAt(doc, tokens, cloneJson(value), path, 'copy');
        break;
      }
      default: {
        // test: RFC 6902 §4.6, JSON equality.
        const actual = getAt(doc, tokens, 'test', path);
        if (!jsonEqual(actual, raw.value))
          throw new PatchError(422, `testing value ${path} failed: test failed`);
      }
    }
  });
  return doc;
}

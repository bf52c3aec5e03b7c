/**
 * Label and field selectors as kube-apiserver parses them: apimachinery `pkg/labels/selector.go`
 * (a lexer plus recursive-descent parser, messages kept) and `pkg/fields/selector.go` (terms split
 * on unescaped commas; `\,` `\=` `\\` escapes in values).
 */
import { formatValue } from './field-errors.js';
import { isRecord } from './json-values.js';
import { isQualifiedName, isValidLabelValue } from './strings.js';

export class SelectorError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SelectorError';
  }
}

/** `GreaterThan`/`LessThan` (`a>1`, `a<1`) are accepted by kube too, so they are here. */
export interface LabelRequirement {
  key: string;
  operator: 'Equals' | 'NotEquals' | 'In' | 'NotIn' | 'Exists' | 'DoesNotExist' | 'GreaterThan' | 'LessThan';
  values: string[];
}

type Tok = 'end' | 'ident' | '(' | ')' | ',' | '!' | '=' | '==' | '!=' | '>' | '<' | 'in' | 'notin';

interface Item {
  tok: Tok;
  lit: string;
}

const SYMBOLS: ReadonlySet<string> = new Set(['(', ')', ',', '!', '=', '==', '!=', '>', '<']);
const isWhitespace = (ch: string): boolean => ch === ' ' || ch === '\t' || ch === '\r' || ch === '\n';
const isSpecial = (ch: string): boolean => '=!(),><'.includes(ch);

function lex(s: string): Item[] {
  const items: Item[] = [];
  let pos = 0;
  for (;;) {
    while (pos < s.length && isWhitespace(s[pos]!)) pos++;
    if (pos >= s.length) {
      items.push({ tok: 'end', lit: '' });
      return items;
    }
    if (isSpecial(s[pos]!)) {
      // Longest run of special characters that is still an operator ("!=" rather than "!").
      let buffer = '';
      let last: Item | undefined;
      while (pos < s.length && isSpecial(s[pos]!)) {
        buffer += s[pos];
        if (SYMBOLS.has(buffer)) last = { tok: buffer as Tok, lit: buffer };
        else if (last) break;
        pos++;
      }
      // Every single special character is an operator, so a run always yields one.
      items.push(last!);
      continue;
    }
    let ident = '';
    while (pos < s.length && !isSpecial(s[pos]!) && !isWhitespace(s[pos]!)) ident += s[pos++];
    items.push(
      ident === 'in' || ident === 'notin' ? { tok: ident, lit: ident } : { tok: 'ident', lit: ident },
    );
  }
}

/** Parser over the scanned items; "in"/"notin" read as identifiers where a value is expected. */
class LabelParser {
  private pos = 0;
  constructor(private readonly items: Item[]) {}

  private peek(values = true): Item {
    const it = this.items[Math.min(this.pos, this.items.length - 1)]!;
    return values && (it.tok === 'in' || it.tok === 'notin') ? { tok: 'ident', lit: it.lit } : it;
  }

  private next(values = true): Item {
    const it = this.peek(values);
    this.pos++;
    return it;
  }

  parse(): LabelRequirement[] {
    const reqs: LabelRequirement[] = [];
    for (;;) {
      const { tok, lit } = this.peek();
      if (tok === 'end') return reqs;
      if (tok !== 'ident' && tok !== '!') {
        throw new SelectorError(`found '${lit}', expected: !, identifier, or 'end of string'`);
      }
      reqs.push(this.requirement());
      const after = this.next();
      if (after.tok === 'end') return reqs;
      if (after.tok !== ',')
        throw new SelectorError(`found '${after.lit}', expected: ',' or 'end of string'`);
      const following = this.peek();
      if (following.tok !== 'ident' && following.tok !== '!') {
        throw new SelectorError(`found '${following.lit}', expected: identifier after ','`);
      }
    }
  }

  private requirement(): LabelRequirement {
    let negated = false;
    let item = this.next();
    if (item.tok === '!') {
      negated = true;
      item = this.next();
    }
    if (item.tok !== 'ident') throw unableToParse(`found '${item.lit}', expected: identifier`);
    const key = item.lit;
    checkKey(key);
    const ahead = this.peek().tok;
    if (negated || ahead === 'end' || ahead === ',') {
      // "!key" followed by an operator fails in kube at the operator; same here.
      if (negated && ahead !== 'end' && ahead !== ',') {
        throw new SelectorError(`found '${this.peek().lit}', expected: ',' or 'end of string'`);
      }
      return { key, operator: negated ? 'DoesNotExist' : 'Exists', values: [] };
    }
    const op = this.next(false);
    switch (op.tok) {
      case 'in':
      case 'notin':
        return build(key, op.tok === 'in' ? 'In' : 'NotIn', this.setValues());
      case '=':
      case '==':
        return build(key, 'Equals', this.exactValue());
      case '!=':
        return build(key, 'NotEquals', this.exactValue());
      case '>':
      case '<':
        return build(key, op.tok === '>' ? 'GreaterThan' : 'LessThan', this.exactValue());
      default:
        throw unableToParse(`found '${op.lit}', expected: in, notin, =, ==, !=, gt, lt`);
    }
  }

  private setValues(): string[] {
    const open = this.next();
    if (open.tok !== '(') throw unableToParse(`found '${open.lit}' expected: '('`);
    const first = this.peek();
    if (first.tok === ')') {
      this.next();
      return [''];
    }
    if (first.tok !== 'ident' && first.tok !== ',') {
      throw unableToParse(`found '${first.lit}', expected: ',', ')' or identifier`);
    }
    const values = new Set<string>();
    for (;;) {
      const item = this.next();
      if (item.tok === 'ident') {
        values.add(item.lit);
        const after = this.peek();
        if (after.tok === ',') continue;
        if (after.tok === ')') break;
        throw unableToParse(`found '${after.lit}', expected: ',' or ')'`);
      }
      if (item.tok === ',') {
        // "(,", ",)" and ",," each stand for the empty value.
        if (values.size === 0) values.add('');
        const after = this.peek();
        if (after.tok === ')') {
          values.add('');
          break;
        }
        if (after.tok === ',') {
          this.next();
          values.add('');
        }
        continue;
      }
      throw unableToParse(`found '${item.lit}', expected: ',', or identifier`);
    }
    this.next(); // the ')'
    return [...values].sort();
  }

  private exactValue(): string[] {
    const ahead = this.peek();
    if (ahead.tok === 'end' || ahead.tok === ',') return [''];
    const item = this.next();
    if (item.tok === 'ident') return [item.lit];
    throw unableToParse(`found '${item.lit}', expected: identifier`);
  }
}

function unableToParse(detail: string): SelectorError {
  return new SelectorError(`unable to parse requirement: ${detail}`);
}

/** field.Invalid on a nil path prints "<nil>", which is what kube's message shows for a bad key. */
function checkKey(key: string): void {
  const errs = isQualifiedName(key);
  if (errs.length) throw unableToParse(`<nil>: Invalid value: ${formatValue(key)}: ${errs.join('; ')}`);
}

function build(key: string, operator: LabelRequirement['operator'], values: string[]): LabelRequirement {
  const problems: string[] = [];
  if ((operator === 'GreaterThan' || operator === 'LessThan') && !values.every((v) => /^[-+]?\d+$/.test(v))) {
    problems.push(
      `values[0]: Invalid value: ${formatValue(values[0])}: for 'Gt', 'Lt' operators, the value must be an integer`,
    );
  }
  values.forEach((v, i) => {
    const errs = isValidLabelValue(v);
    if (errs.length)
      problems.push(`values[${i}][${key}]: Invalid value: ${formatValue(v)}: ${errs.join('; ')}`);
  });
  if (problems.length) throw unableToParse(problems.length === 1 ? problems[0]! : `[${problems.join(', ')}]`);
  return { key, operator, values };
}

/** labels.Parse: "" selects everything; requirements come back sorted by key, as kube's do. */
export function parseLabelSelector(text: string): LabelRequirement[] {
  const reqs = new LabelParser(lex(text)).parse();
  return reqs.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

export function matchesLabels(reqs: LabelRequirement[], labels: Record<string, string> | undefined): boolean {
  const ls = labels ?? {};
  return reqs.every((r) => {
    const has = Object.hasOwn(ls, r.key);
    const value = has ? ls[r.key]! : '';
    switch (r.operator) {
      case 'Equals':
      case 'In':
        return has && r.values.includes(value);
      case 'NotEquals':
      case 'NotIn':
        return !has || !r.values.includes(value);
      case 'Exists':
        return has;
      case 'DoesNotExist':
        return !has;
      default: {
        // GreaterThan / LessThan: both sides must be integers.
        if (!has || !/^[-+]?\d+$/.test(value)) return false;
        const got = Number(value);
        const want = Number(r.values[0]);
        return r.operator === 'GreaterThan' ? got > want : got < want;
      }
    }
  });
}

export interface FieldRequirement {
  field: string;
  operator: 'Equals' | 'NotEquals';
  value: string;
}

/** Splits on commas not escaped by a backslash (fields.splitTerms). */
function splitTerms(text: string): string[] {
  if (text === '') return [];
  const terms: string[] = [];
  let start = 0;
  let escaped = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (escaped) escaped = false;
    else if (ch === '\\') escaped = true;
    else if (ch === ',') {
      terms.push(text.slice(start, i));
      start = i + 1;
    }
  }
  terms.push(text.slice(start));
  return terms;
}

/** fields.splitTerm: the first unescaped operator, trying `!=` and `==` before `=`. */
function splitTerm(term: string): [string, '!=' | '==' | '=', string] | undefined {
  let escaped = false;
  for (let i = 0; i < term.length; i++) {
    if (escaped) {
      escaped = false;
      continue;
    }
    if (term[i] === '\\') {
      escaped = true;
      continue;
    }
    for (const op of ['!=', '=='] as const) {
      if (term.startsWith(op, i)) return [term.slice(0, i), op, term.slice(i + op.length)];
    }
    if (term[i] === '=') return [term.slice(0, i), '=', term.slice(i + 1)];
  }
  return undefined;
}

/** fields.UnescapeValue: only `\\`, `\,` and `\=` are escapes; a bare `,` or `=` is an error. */
function unescapeValue(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (ch === '\\') {
      const next = s[i + 1];
      if (next !== '\\' && next !== ',' && next !== '=') {
        throw new SelectorError(`invalid field selector: invalid escape sequence: ${s.slice(i, i + 2)}`);
      }
      out += next;
      i++;
    } else if (ch === ',' || ch === '=') {
      throw new SelectorError(`invalid field selector: unescaped character in value: ${ch}`);
    } else {
      out += ch;
    }
  }
  return out;
}

/**
 * fields.ParseSelector, then the kind's field label conversion: any field outside
 * `supportedFields` is refused the way the apiserver refuses it (400, "field label not supported").
 */
export function parseFieldSelector(text: string, supportedFields: readonly string[]): FieldRequirement[] {
  const reqs: FieldRequirement[] = [];
  for (const term of splitTerms(text)) {
    if (term === '') continue;
    const parts = splitTerm(term);
    if (!parts) throw new SelectorError(`invalid selector: '${text}'; can't understand '${term}'`);
    const [field, op, raw] = parts;
    const value = unescapeValue(raw);
    if (!supportedFields.includes(field)) throw new SelectorError(`field label not supported: ${field}`);
    reqs.push({ field, operator: op === '!=' ? 'NotEquals' : 'Equals', value });
  }
  return reqs;
}

/**
 * fields.Selector.RequiresExactMatch("metadata.name"): the name a field selector pins, whatever
 * else it asks; undefined for a malformed selector or none. kube-apiserver's RequestInfo makes it
 * the name of a list or watch, so a Role's resourceNames can grant a watch of one object.
 */
export function exactNameOf(text: string | null): string | undefined {
  if (!text) return undefined;
  let name: string | undefined;
  for (const term of splitTerms(text)) {
    const parts = term === '' ? undefined : splitTerm(term);
    if (!parts) return undefined;
    if (parts[0] === 'metadata.name' && parts[1] !== '!=') name = unescapeValue(parts[2]);
  }
  return name;
}

/** The string a field has in the kind's field set: absent is "", booleans and numbers as Go prints them. */
export function fieldValue(obj: unknown, path: string): string {
  let cur: unknown = obj;
  for (const part of path.split('.')) {
    if (!isRecord(cur)) return '';
    cur = cur[part];
  }
  if (typeof cur === 'string') return cur;
  if (typeof cur === 'number' || typeof cur === 'boolean') return String(cur);
  return '';
}

export function matchesFields(reqs: FieldRequirement[], obj: unknown): boolean {
  return reqs.every((r) => (fieldValue(obj, r.field) === r.value) === (r.operator === 'Equals'));
}

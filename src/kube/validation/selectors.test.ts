import { describe, expect, it } from 'vitest';
import {
  type LabelRequirement,
  matchesFields,
  matchesLabels,
  parseFieldSelector,
  parseLabelSelector,
  SelectorError,
} from './selectors.js';

describe('parseLabelSelector', () => {
  // Valid selectors from apimachinery's TestSelectorParse / TestToString.
  it.each<[string, LabelRequirement[]]>([
    ['', []],
    ['x', [{ key: 'x', operator: 'Exists', values: [] }]],
    ['!x', [{ key: 'x', operator: 'DoesNotExist', values: [] }]],
    ['x=a', [{ key: 'x', operator: 'Equals', values: ['a'] }]],
    ['x==a', [{ key: 'x', operator: 'Equals', values: ['a'] }]],
    ['x!=a', [{ key: 'x', operator: 'NotEquals', values: ['a'] }]],
    ['x=', [{ key: 'x', operator: 'Equals', values: [''] }]],
    [
      'x= ,z= ',
      [
        { key: 'x', operator: 'Equals', values: [''] },
        { key: 'z', operator: 'Equals', values: [''] },
      ],
    ],
    [
      'z=c,x=a,y=b',
      [
        { key: 'x', operator: 'Equals', values: ['a'] },
        { key: 'y', operator: 'Equals', values: ['b'] },
        { key: 'z', operator: 'Equals', values: ['c'] },
      ],
    ],
    ['x in (b,a)', [{ key: 'x', operator: 'In', values: ['a', 'b'] }]],
    ['x notin (a)', [{ key: 'x', operator: 'NotIn', values: ['a'] }]],
    ['x in (in,notin)', [{ key: 'x', operator: 'In', values: ['in', 'notin'] }]],
    ['x in ()', [{ key: 'x', operator: 'In', values: [''] }]],
    ['x in (,a)', [{ key: 'x', operator: 'In', values: ['', 'a'] }]],
    ['x>1', [{ key: 'x', operator: 'GreaterThan', values: ['1'] }]],
    ['x<5', [{ key: 'x', operator: 'LessThan', values: ['5'] }]],
    [
      '  mirror.linkerd.io/exported = true ',
      [{ key: 'mirror.linkerd.io/exported', operator: 'Equals', values: ['true'] }],
    ],
    [
      'app in (a, b),!canary',
      [
        { key: 'app', operator: 'In', values: ['a', 'b'] },
        { key: 'canary', operator: 'DoesNotExist', values: [] },
      ],
    ],
  ])('parses %j', (text, want) => {
    expect(parseLabelSelector(text)).toEqual(want);
  });

  it.each<[string, string]>([
    ['x=a||y=b', 'values[0][x]: Invalid value: "a||y"'],
    ['x==a==b', "found '==', expected: ',' or 'end of string'"],
    ['!x=a', "found '=', expected: ',' or 'end of string'"],
    ['x<a', "for 'Gt', 'Lt' operators, the value must be an integer"],
    ['x>1.1', "for 'Gt', 'Lt' operators, the value must be an integer"],
    ['x,', "found '', expected: identifier after ','"],
    [',x', "found ',', expected: !, identifier, or 'end of string'"],
    ['x in a', "unable to parse requirement: found 'a' expected: '('"],
    ['x in (a', "found '', expected: ',' or ')'"],
    ['x (a)', "unable to parse requirement: found '(', expected: in, notin, =, ==, !=, gt, lt"],
    ['a/b/c=d', 'a qualified name must consist of alphanumeric characters'],
    ['Ab_/c', 'prefix part a lowercase RFC 1123 subdomain must consist of'],
    ['x=a/b', 'values[0][x]: Invalid value: "a/b": a valid label must be an empty string'],
    [`x=${'a'.repeat(64)}`, 'must be no more than 63 characters'],
    [`${'k'.repeat(64)}=v`, 'name part must be no more than 63 characters'],
  ])('rejects %j', (text, message) => {
    expect(() => parseLabelSelector(text)).toThrow(SelectorError);
    expect(() => parseLabelSelector(text)).toThrow(message);
  });

  it('words a bad key like kube does', () => {
    expect(() => parseLabelSelector('-x')).toThrow(
      'unable to parse requirement: <nil>: Invalid value: "-x": name part must consist of alphanumeric characters',
    );
  });
});

describe('matchesLabels', () => {
  const labels = { app: 'web', tier: 'front', n: '7' };
  it.each<[string, Record<string, string> | undefined, boolean]>([
    ['', labels, true],
    ['', undefined, true],
    ['app=web', labels, true],
    ['app=db', labels, false],
    ['app!=db', labels, true],
    ['missing!=x', labels, true],
    ['app in (db,web)', labels, true],
    ['app notin (db,web)', labels, false],
    ['missing notin (a)', labels, true],
    ['missing in (a)', labels, false],
    ['app', labels, true],
    ['!app', labels, false],
    ['!missing', labels, true],
    ['n>5', labels, true],
    ['n<5', labels, false],
    ['app>5', labels, false],
    ['app=web,tier=back', labels, false],
    ['app=web,tier=front', labels, true],
    ['app=', { app: '' }, true],
    ['app=', {}, false],
  ])('%j against %j → %s', (text, ls, want) => {
    expect(matchesLabels(parseLabelSelector(text), ls)).toBe(want);
  });
});

describe('parseFieldSelector', () => {
  const fields = ['metadata.name', 'metadata.namespace', 'spec.nodeName', 'status.phase'];
  it.each<[string, ReturnType<typeof parseFieldSelector>]>([
    ['', []],
    ['metadata.name=x', [{ field: 'metadata.name', operator: 'Equals', value: 'x' }]],
    ['metadata.name==x', [{ field: 'metadata.name', operator: 'Equals', value: 'x' }]],
    ['metadata.name!=x', [{ field: 'metadata.name', operator: 'NotEquals', value: 'x' }]],
    ['metadata.name=', [{ field: 'metadata.name', operator: 'Equals', value: '' }]],
    [
      'metadata.name=a,status.phase!=Running',
      [
        { field: 'metadata.name', operator: 'Equals', value: 'a' },
        { field: 'status.phase', operator: 'NotEquals', value: 'Running' },
      ],
    ],
    ['metadata.name=a\\,b\\=c\\\\', [{ field: 'metadata.name', operator: 'Equals', value: 'a,b=c\\' }]],
  ])('parses %j', (text, want) => {
    expect(parseFieldSelector(text, fields)).toEqual(want);
  });

  it.each<[string, string]>([
    ['spec.foo=x', 'field label not supported: spec.foo'],
    ['metadata.name', "invalid selector: 'metadata.name'; can't understand 'metadata.name'"],
    ['metadata.name=a=b', 'invalid field selector: unescaped character in value: ='],
    ['metadata.name=a\\b', 'invalid field selector: invalid escape sequence: \\b'],
  ])('rejects %j', (text, message) => {
    expect(() => parseFieldSelector(text, fields)).toThrow(SelectorError);
    expect(() => parseFieldSelector(text, fields)).toThrow(message);
  });
});

describe('matchesFields', () => {
  const pod = { metadata: { name: 'p', namespace: 'ns' }, spec: { nodeName: 'n1', hostNetwork: false } };
  it.each<[string, boolean]>([
    ['metadata.name=p', true],
    ['metadata.name=q', false],
    ['metadata.name!=q', true],
    ['metadata.name=p,metadata.namespace=ns', true],
    ['metadata.name=p,metadata.namespace!=ns', false],
    ['status.phase=', true],
    ['spec.hostNetwork=false', true],
  ])('%j → %s', (text, want) => {
    const reqs = parseFieldSelector(text, [
      'metadata.name',
      'metadata.namespace',
      'status.phase',
      'spec.hostNetwork',
    ]);
    expect(matchesFields(reqs, pod)).toBe(want);
  });
});

import { describe, expect, it } from 'vitest';
import { labelSelectorToString, linkSelectorToString, matchesLabelSelector } from './label-selector.js';
import type { V1LabelSelector } from './types.js';

describe('labelSelectorToString', () => {
  it.each<[string, V1LabelSelector | undefined, string | null]>([
    ['absent', undefined, null],
    ['empty', {}, null],
    ['empty parts', { matchLabels: {}, matchExpressions: [] }, null],
    ['matchLabels', { matchLabels: { b: '2', a: '1' } }, 'a=1,b=2'],
    [
      'expressions',
      {
        matchExpressions: [
          { key: 'tier', operator: 'In', values: ['web', 'api'] },
          { key: 'env', operator: 'NotIn', values: ['dev'] },
          { key: 'exported', operator: 'Exists' },
          { key: 'legacy', operator: 'DoesNotExist' },
        ],
      },
      'env notin (dev),exported,!legacy,tier in (api,web)',
    ],
  ])('%s', (_name, sel, want) => {
    expect(labelSelectorToString(sel)).toBe(want);
  });

  it('rejects malformed requirements with KUBE_INVALID', () => {
    expect(() => labelSelectorToString({ matchExpressions: [{ key: 'a', operator: 'In' }] })).toThrow(
      /needs at least one value/,
    );
    expect(() =>
      labelSelectorToString({ matchExpressions: [{ key: 'a', operator: 'Exists', values: ['x'] }] }),
    ).toThrow(/takes no values/);
    expect(() => labelSelectorToString({ matchExpressions: [{ key: 'a', operator: 'Near' }] })).toThrow(
      /unknown operator/,
    );
  });

  it('a Link without selector uses the export label; an empty one mirrors nothing', () => {
    expect(linkSelectorToString(undefined)).toBe('mirror.linkerd.io/exported=true');
    expect(linkSelectorToString({})).toBeNull();
  });
});

describe('matchesLabelSelector', () => {
  const sel: V1LabelSelector = {
    matchLabels: { app: 'web' },
    matchExpressions: [
      { key: 'env', operator: 'NotIn', values: ['dev'] },
      { key: 'zone', operator: 'In', values: ['a', 'b'] },
      { key: 'legacy', operator: 'DoesNotExist' },
    ],
  };
  it.each<[Record<string, string> | undefined, boolean]>([
    [{ app: 'web', zone: 'a' }, true],
    [{ app: 'web', zone: 'b', env: 'prod' }, true],
    [{ app: 'web', zone: 'a', env: 'dev' }, false],
    [{ app: 'web', zone: 'c' }, false],
    [{ app: 'web' }, false],
    [{ app: 'web', zone: 'a', legacy: '' }, false],
    [{ app: 'db', zone: 'a' }, false],
    [undefined, false],
  ])('%j → %s', (labels, want) => {
    expect(matchesLabelSelector(sel, labels)).toBe(want);
  });

  it('empty and absent selectors match nothing', () => {
    expect(matchesLabelSelector({}, { a: '1' })).toBe(false);
    expect(matchesLabelSelector(undefined, { a: '1' })).toBe(false);
  });

  it('Exists matches an empty value', () => {
    expect(matchesLabelSelector({ matchExpressions: [{ key: 'k', operator: 'Exists' }] }, { k: '' })).toBe(
      true,
    );
  });
});

import { describe, expect, it } from 'vitest';
import { replaceSection } from './report.js';

describe('replaceSection', () => {
  it('appends the section when missing', () => {
    expect(replaceSection('# Benchmarks\n', '## Mirror', 'numbers')).toBe(
      '# Benchmarks\n\n## Mirror\n\nnumbers\n',
    );
  });

  it('replaces only its own section, keeping the ones before and after', () => {
    const doc = '# Benchmarks\n\n## Gateway\n\ng1\n\n## Mirror\n\nold\nold2\n\n## Later\n\nl\n';
    expect(replaceSection(doc, '## Mirror', 'new')).toBe(
      '# Benchmarks\n\n## Gateway\n\ng1\n\n## Mirror\n\nnew\n\n## Later\n\nl\n',
    );
  });

  it('replaces a last section up to the end of the file', () => {
    const doc = '# B\n\n## Gateway\n\ng\n\n## Mirror\n\nold\n';
    expect(replaceSection(doc, '## Mirror', 'new')).toBe('# B\n\n## Gateway\n\ng\n\n## Mirror\n\nnew\n');
  });

  it('does not take a "### Mirror details" heading for its own', () => {
    const doc = '# B\n\n## Gateway\n\n### Mirror details\n\nx\n';
    expect(replaceSection(doc, '## Mirror', 'new')).toContain('### Mirror details\n\nx\n');
  });
});

/**
 * How `isthmus check` prints: one line per check with linkerd's marks (√ passed, ‼ warning,
 * × failed), each problem indented below it, and a closing verdict. No colours or cursor
 * control, so the output reads the same in a terminal, a CI log or a file.
 */
import type { CheckResult, CheckStatus } from './types.js';

export const MARKS: Record<CheckStatus, string> = { ok: '√', warn: '‼', fail: '×' };

export function checksPassed(results: readonly CheckResult[]): boolean {
  return results.every((r) => r.status !== 'fail');
}

export function renderCheckText(results: readonly CheckResult[]): string {
  const lines = ['isthmus multicluster', '--------------------'];
  for (const r of results) {
    lines.push(`${MARKS[r.status]} ${r.description}`);
    for (const h of r.hints) lines.push(`    ${h}`);
  }
  lines.push('', `Status check results are ${checksPassed(results) ? MARKS.ok : MARKS.fail}`);
  return `${lines.join('\n')}\n`;
}

/** The -o json|yaml form, shaped like linkerd's (success plus one entry per check). */
export function checkReport(results: readonly CheckResult[]): {
  success: boolean;
  checks: { description: string; result: 'success' | 'warning' | 'error'; hints: string[] }[];
} {
  const word = { ok: 'success', warn: 'warning', fail: 'error' } as const;
  return {
    success: checksPassed(results),
    checks: results.map((r) => ({ description: r.description, result: word[r.status], hints: r.hints })),
  };
}

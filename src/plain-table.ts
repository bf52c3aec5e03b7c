import Table from 'cli-table3';

/** Borderless table, columns separated by two spaces like kubectl get (no ANSI colours). */
export function plainTable(head: string[], rows: readonly string[][]): string {
  const blank = { top: '', bottom: '', left: '', right: '', mid: '' };
  const table = new Table({
    head,
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0 },
    chars: {
      ...blank,
      'top-mid': '',
      'top-left': '',
      'top-right': '',
      'bottom-mid': '',
      'bottom-left': '',
      'bottom-right': '',
      'left-mid': '',
      'mid-mid': '',
      'right-mid': '',
      middle: '  ',
    },
  });
  for (const row of rows) table.push(row);
  return table
    .toString()
    .split('\n')
    .map((l) => l.trimEnd())
    .join('\n');
}

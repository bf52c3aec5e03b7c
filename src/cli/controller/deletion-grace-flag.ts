/**
 * `isthmus controller --mirror-deletion-grace`: how long removals of mirrors a shrunk remote list
 * lacks are held (src/mirror/deletion-hold.ts). A duration as the other flags take them, or 0 (with
 * or without a unit), which turns the guard off; at most a year (deletion-hold.ts chains timers past
 * setTimeout's ~24.8 days, but a deadline must stay a date the status can write).
 */
import { IsthmusError } from '../../errors.js';
import { parseDurationFlag } from '../common-flags.js';

export const DELETION_GRACE_FLAG = '--mirror-deletion-grace';

const MAX_GRACE_MS = 365 * 86_400_000;

export function parseDeletionGrace(text: string): number {
  if (/^0+(ms|s|m|h)?$/.test(text)) return 0;
  const ms = parseDurationFlag(text, DELETION_GRACE_FLAG);
  if (ms > MAX_GRACE_MS)
    throw new IsthmusError('USAGE', `${DELETION_GRACE_FLAG} must be at most 8760h (a year), got "${text}"`, {
      terminal: true,
    });
  return ms;
}

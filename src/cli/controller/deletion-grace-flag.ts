/**
 * `isthmus controller --mirror-deletion-grace`: how long removals of mirrors a shrunk remote list
 * lacks are held (src/mirror/deletion-hold.ts). A duration as the other flags take them, or 0 (with
 * or without a unit), which turns the guard off.
 */
import { parseDurationFlag } from '../common-flags.js';

export const DELETION_GRACE_FLAG = '--mirror-deletion-grace';

export function parseDeletionGrace(text: string): number {
  return /^0+(ms|s|m|h)?$/.test(text) ? 0 : parseDurationFlag(text, DELETION_GRACE_FLAG);
}

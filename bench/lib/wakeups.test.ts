import { describe, expect, it } from 'vitest';
import { parseVoluntarySwitches, voluntarySwitchesOf } from './wakeups.js';

describe('voluntary context switches', () => {
  it('reads the voluntary count, not the involuntary one', () => {
    const status = 'Name:\tnode\nvoluntary_ctxt_switches:\t1234\nnonvoluntary_ctxt_switches:\t99\n';
    expect(parseVoluntarySwitches(status)).toBe(1234);
    expect(parseVoluntarySwitches('Name:\tnode\n')).toBe(0);
  });

  it('sums every thread of a live process, and grows when it sleeps', async () => {
    const before = voluntarySwitchesOf(process.pid);
    expect(before).toBeGreaterThan(0);
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(voluntarySwitchesOf(process.pid)).toBeGreaterThan(before);
  });
});

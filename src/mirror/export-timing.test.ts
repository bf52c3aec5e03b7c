import { describe, expect, it } from 'vitest';
import { CREATION_TOLERANCE_MS, exportedAt } from './export-timing.js';

const arrival = Date.parse('2026-03-01T12:00:10.400Z');

describe('exportedAt', () => {
  it.each<[string, string | undefined, number]>([
    // creationTimestamp has whole seconds: a Service made and delivered within the same second.
    ['created exported, delivered at once', '2026-03-01T12:00:10Z', Date.parse('2026-03-01T12:00:10Z')],
    ['created exported, a slow watch', '2026-03-01T12:00:07Z', Date.parse('2026-03-01T12:00:07Z')],
    ['labelled 40 s after it was made', '2026-03-01T11:59:30Z', arrival],
    ['made a day ago, exported now', '2026-02-28T12:00:10Z', arrival],
    // The remote API server's clock runs ahead: an export cannot have begun after it arrived.
    ['created "after" it arrived', '2026-03-01T12:00:12Z', arrival],
    ['no creationTimestamp', undefined, arrival],
    ['an unreadable creationTimestamp', 'yesterday', arrival],
  ])('%s', (_name, created, want) => {
    expect(exportedAt(created, arrival)).toBe(want);
  });

  it('takes the creation only within the tolerance of the arrival', () => {
    const edge = new Date(arrival - CREATION_TOLERANCE_MS).toISOString();
    expect(exportedAt(edge, arrival)).toBe(arrival - CREATION_TOLERANCE_MS);
    const past = new Date(arrival - CREATION_TOLERANCE_MS - 1000).toISOString();
    expect(exportedAt(past, arrival)).toBe(arrival);
  });
});

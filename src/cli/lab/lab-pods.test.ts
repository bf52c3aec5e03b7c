import { describe, expect, it } from 'vitest';
import { type ExistingPod, planPodNames } from './lab-pods.js';

const TEMPLATE = { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web' }] } };
const IPS = ['10.244.0.5', '10.244.0.6'];
const plan = (existing: ExistingPod[] = [], retired: string[] = []) =>
  planPodNames('web', TEMPLATE, IPS, existing, retired).names;
const live = (name: string, ip: string): ExistingPod => ({ name, ip, terminating: false });
const going = (name: string, ip: string): ExistingPod => ({ name, ip, terminating: true });
const [first, second] = plan() as [string, string];

describe('planPodNames (the ReplicaSet part of the lab)', () => {
  it('names a fresh lab the same way every time, from the template and the replica', () => {
    expect(plan()).toEqual([first, second]);
    expect(first).toMatch(/^web-[a-z2-9]{10}-[a-z2-9]{5}$/);
    expect(second).not.toBe(first);
  });

  it('keeps the live pods, and replaces a pod of another template', () => {
    expect(plan([live(first, IPS[0]!), live(second, IPS[1]!)])).toEqual([first, second]);
    expect(plan([live('web-0123456789-abcde', IPS[0]!)])).toEqual([first, second]);
  });

  it('names a replacement apart from the pod still terminating, and keeps it once that one is gone', () => {
    const [replacement] = plan([going(first, IPS[0]!)]);
    expect(replacement).not.toBe(first);
    expect(replacement).toMatch(/^web-[a-z2-9]{10}-[a-z2-9]{5}$/);
    expect(plan([going(first, IPS[0]!), live(replacement!, IPS[0]!)])).toEqual([replacement, second]);
    expect(plan([live(replacement!, IPS[0]!)])).toEqual([replacement, second]);
  });

  it('names a new pod apart from the pods gone before (scaled to 0 and back, deleted outright), never a live one', () => {
    const [again, other] = plan([], [first]);
    expect(again).not.toBe(first);
    expect(again).toMatch(/^web-[a-z2-9]{10}-[a-z2-9]{5}$/);
    expect(other).toBe(second);
    const [third] = plan([], [first, again!]);
    expect([first, again]).not.toContain(third);
    // A live pod keeps its name, retired or not: a restart in the same pod renames nothing.
    expect(plan([live(first, IPS[0]!)], [first])).toEqual([first, second]);
  });
});

import { describe, expect, it } from 'vitest';
import type { GatewayAlive } from './plan-mirror.js';
import { type LogLevel, livenessLevel, localGatewayLevel } from './probe-notices.js';

describe('livenessLevel', () => {
  it.each<[GatewayAlive, LogLevel]>([
    [false, 'warn'],
    [true, 'info'],
    ['unknown', 'info'],
  ])('%s → %s', (alive, want) => {
    expect(livenessLevel(alive)).toBe(want);
  });
});

describe('localGatewayLevel', () => {
  it.each<[string, string | undefined, string | undefined, LogLevel]>([
    ['an outage starts: warned', 'connect ECONNREFUSED', undefined, 'warn'],
    ['another text in the same outage: debug', 'certificates not loaded', 'connect ECONNREFUSED', 'debug'],
    ['the same text again: debug', 'connect ECONNREFUSED', 'connect ECONNREFUSED', 'debug'],
    ['probes again', undefined, 'connect ECONNREFUSED', 'info'],
  ])('%s', (_, error, before, want) => {
    expect(localGatewayLevel(error, before)).toBe(want);
  });
});

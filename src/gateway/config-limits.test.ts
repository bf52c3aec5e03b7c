/**
 * The ingress's bounds in the gateway's configuration (security review, findings 2 and 8):
 * `--max-tunnels` (ISTHMUS_MAX_TUNNELS) and the idle-session timeout, on by default.
 */
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_IDLE_SESSION_TIMEOUT_MS,
  DEFAULT_MAX_TUNNELS,
  gatewayArgvFromFlags,
  gatewayFlagsFromArgv,
  gatewayOptionsFromFlags,
} from './config.js';
import { minimalFlags as minimal, usageMessage } from './test-support/config-flags.js';

describe('--max-tunnels', () => {
  it('defaults to a bound that keeps a gateway within the install memory limit', () => {
    expect(gatewayOptionsFromFlags(minimal).limits.maxTunnels).toBe(DEFAULT_MAX_TUNNELS);
    // ~120 MiB idle and at most ~27 KiB per tunnel (docs/benchmarks.md: V8 heap growth per idle
    // tunnel; the security review's loop grew ~19 KiB RSS per ingress tunnel with its egress twin in
    // the same gateway), in KiB: within 80 % of the install's 512 Mi limit (resources.ts).
    expect(120 * 1024 + DEFAULT_MAX_TUNNELS * 27).toBeLessThan(0.8 * 512 * 1024);
  });

  it('is read from the flag, then ISTHMUS_MAX_TUNNELS', () => {
    expect(gatewayOptionsFromFlags({ ...minimal, maxTunnels: '500' }).limits.maxTunnels).toBe(500);
    expect(gatewayOptionsFromFlags(minimal, { ISTHMUS_MAX_TUNNELS: '42' }).limits.maxTunnels).toBe(42);
    expect(
      gatewayOptionsFromFlags({ ...minimal, maxTunnels: 7 }, { ISTHMUS_MAX_TUNNELS: '42' }).limits.maxTunnels,
    ).toBe(7);
  });

  it.each(['0', '-1', '1.5', 'many'])('refuses %s', (value) => {
    expect(usageMessage(() => gatewayOptionsFromFlags({ ...minimal, maxTunnels: value }))).toContain(
      `--max-tunnels "${value}" is not a positive integer`,
    );
  });

  it('round-trips through argv', () => {
    const flags = gatewayFlagsFromArgv(['--cluster', 'west', '--max-tunnels', '300']);
    expect(flags).toEqual({ cluster: 'west', maxTunnels: '300' });
    expect(gatewayArgvFromFlags(flags)).toEqual(['--cluster', 'west', '--max-tunnels', '300']);
  });
});

describe('idle sessions', () => {
  it('are closed after 10 minutes without a stream by default', () => {
    expect(DEFAULT_IDLE_SESSION_TIMEOUT_MS).toBe(600_000);
    expect(gatewayOptionsFromFlags(minimal).limits.idleSessionTimeoutMs).toBe(600_000);
  });
});

describe('--max-sessions-per-peer and --max-sessions', () => {
  it('default to 32 per peer cluster and 1000 in all', () => {
    const { limits } = gatewayOptionsFromFlags(minimal);
    expect(limits.maxSessionsPerPeer).toBe(32);
    expect(limits.maxSessions).toBe(1000);
  });

  it('are read from the flags, then ISTHMUS_MAX_SESSIONS_PER_PEER and ISTHMUS_MAX_SESSIONS', () => {
    const env = { ISTHMUS_MAX_SESSIONS_PER_PEER: '8', ISTHMUS_MAX_SESSIONS: '64' };
    expect(gatewayOptionsFromFlags(minimal, env).limits).toMatchObject({
      maxSessionsPerPeer: 8,
      maxSessions: 64,
    });
    expect(
      gatewayOptionsFromFlags({ ...minimal, maxSessionsPerPeer: '4', maxSessions: '40' }, env).limits,
    ).toMatchObject({ maxSessionsPerPeer: 4, maxSessions: 40 });
  });

  it.each(['0', '1.5', 'many'])('refuse %s', (value) => {
    expect(usageMessage(() => gatewayOptionsFromFlags({ ...minimal, maxSessionsPerPeer: value }))).toContain(
      `--max-sessions-per-peer "${value}" is not a positive integer`,
    );
    expect(usageMessage(() => gatewayOptionsFromFlags({ ...minimal, maxSessions: value }))).toContain(
      `--max-sessions "${value}" is not a positive integer`,
    );
  });

  it('round-trip through argv', () => {
    const argv = ['--max-sessions-per-peer', '16', '--max-sessions', '200'];
    expect(gatewayArgvFromFlags(gatewayFlagsFromArgv(argv))).toEqual(argv);
  });
});

describe('--tunnel-idle-timeout-ms', () => {
  it('is off (0) by default: idle database connections are legitimate', () => {
    expect(gatewayOptionsFromFlags(minimal).limits.tunnelIdleTimeoutMs).toBe(0);
  });

  it('is read from the flag, then ISTHMUS_TUNNEL_IDLE_TIMEOUT_MS', () => {
    const env = { ISTHMUS_TUNNEL_IDLE_TIMEOUT_MS: '3600000' };
    expect(gatewayOptionsFromFlags(minimal, env).limits.tunnelIdleTimeoutMs).toBe(3_600_000);
    expect(
      gatewayOptionsFromFlags({ ...minimal, tunnelIdleTimeoutMs: '60000' }, env).limits.tunnelIdleTimeoutMs,
    ).toBe(60_000);
    expect(usageMessage(() => gatewayOptionsFromFlags({ ...minimal, tunnelIdleTimeoutMs: '-1' }))).toContain(
      '--tunnel-idle-timeout-ms "-1"',
    );
  });
});

// --ingress-stream-window (review: the 256 KiB window cut a tunnel's upload ~3.3x at 20 ms RTT) and
// the bound on --tunnel-idle-timeout-ms (setTimeout's range).
describe('--ingress-stream-window', () => {
  it('defaults to 1 MiB: a tunnel moves a window a round trip', () => {
    expect(gatewayOptionsFromFlags(minimal).limits.ingressStreamWindowBytes).toBe(1 << 20);
  });

  it('is read from the flag, then ISTHMUS_INGRESS_STREAM_WINDOW', () => {
    const env = { ISTHMUS_INGRESS_STREAM_WINDOW: '262144' };
    expect(gatewayOptionsFromFlags(minimal, env).limits.ingressStreamWindowBytes).toBe(262_144);
    expect(
      gatewayOptionsFromFlags({ ...minimal, ingressStreamWindow: '65536' }, env).limits
        .ingressStreamWindowBytes,
    ).toBe(65_536);
  });

  it.each(['65535', '16777217', '1.5', 'big'])('refuses %s (64 KiB to 16 MiB)', (value) => {
    expect(usageMessage(() => gatewayOptionsFromFlags({ ...minimal, ingressStreamWindow: value }))).toContain(
      `--ingress-stream-window "${value}" is not an integer from 65536 to 16777216`,
    );
  });

  it('round-trips through argv', () => {
    const argv = ['--ingress-stream-window', '524288'];
    expect(gatewayArgvFromFlags(gatewayFlagsFromArgv(argv))).toEqual(argv);
  });
});

describe('--tunnel-idle-timeout-ms', () => {
  it('accepts up to setTimeout’s 2^31 − 1 ms and refuses more, rather than cutting at once', () => {
    expect(
      gatewayOptionsFromFlags({ ...minimal, tunnelIdleTimeoutMs: String(2 ** 31 - 1) }).limits
        .tunnelIdleTimeoutMs,
    ).toBe(2 ** 31 - 1);
    expect(
      usageMessage(() => gatewayOptionsFromFlags({ ...minimal, tunnelIdleTimeoutMs: String(2 ** 31) })),
    ).toContain(`--tunnel-idle-timeout-ms "${2 ** 31}" is not an integer from 0 to 2147483647`);
  });
});

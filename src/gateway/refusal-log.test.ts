/**
 * The gateway's log of the ingress's refusals (security review, finding 7): anyone who reaches the
 * LoadBalancer may make a handshake fail, so a refusal costs at most one warn line per address (and
 * reason) a minute, the rest counted into the next line; a linked peer's refusal (revoked, not
 * linked) stays visible at warn whatever a flood from elsewhere does; bytes that are no TLS at all
 * (a plain-HTTP health check, a scanner) are no refused peer. Published straight on the channels,
 * with a clock of the test's own: nothing here waits.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { CHANNELS, type HandshakeRejectedMessage } from './diagnostics.js';
import { logRefusals } from './refusal-log.js';
import { SESSION_LIVENESS_CHANNEL } from './session-liveness.js';

interface Line {
  level: number;
  msg: string;
  [field: string]: unknown;
}
const WARN = 40;
const DEBUG = 20;

const lines: Line[] = [];
let stop: (() => void) | undefined;
let clock = 0;
afterEach(() => {
  stop?.();
  stop = undefined;
  lines.length = 0;
  clock = 0;
});

function start(options: { maxTracked?: number } = {}): void {
  const log = pino({ level: 'debug' }, { write: (s: string) => lines.push(JSON.parse(s) as Line) });
  stop = logRefusals(log, false, { now: () => clock, windowMs: 60_000, ...options });
}

const reject = (m: HandshakeRejectedMessage): void =>
  diagnosticsChannel.channel(CHANNELS.handshakeRejected).publish(m);
const warnings = (): Line[] => lines.filter((l) => l.level === WARN);

describe('refused handshakes in the log', () => {
  it('logs the first refusal of an address at warn, then counts the rest into its next line a minute later', async () => {
    start();
    for (let port = 40_000; port < 40_050; port++)
      reject({ reason: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', peer: `203.0.113.9:${port}` });
    // Another address has a window of its own.
    reject({ reason: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', peer: '203.0.113.10:40000' });
    expect(warnings().map((l) => [l.msg, l.peer, l.suppressed])).toEqual([
      ['peer gateway refused', '203.0.113.9:40000', undefined],
      ['peer gateway refused', '203.0.113.10:40000', undefined],
    ]);
    clock += 30_000;
    reject({ reason: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', peer: '203.0.113.9:41000' });
    expect(warnings()).toHaveLength(2);
    clock += 30_001;
    reject({ reason: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', peer: '203.0.113.9:42000' });
    expect(warnings().slice(2)).toEqual([
      expect.objectContaining({
        msg: 'peer gateway refused',
        peer: '203.0.113.9:42000',
        reason: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
        suppressed: 50,
      }),
    ]);
  });

  it('keeps the refusal of a linked peer (revoked, not linked) at warn while a flood from many addresses fills the table', async () => {
    start({ maxTracked: 10 });
    for (let i = 0; i < 500; i++)
      reject({ reason: 'ERR_TLS_HANDSHAKE_TIMEOUT', peer: `198.51.100.${i % 250}:${50_000 + i}` });
    const flood = warnings().length;
    expect(flood).toBeLessThanOrEqual(10 + 1);
    reject({
      reason: 'certificate serial 1f is revoked',
      identity: 'spiffe://cluster.local/cluster/east/gateway',
      peer: '10.1.2.3:4000',
    });
    reject({
      reason: 'cluster "north" is not linked',
      identity: 'spiffe://cluster.local/cluster/north/gateway',
      peer: '10.1.2.4:4000',
    });
    expect(warnings().slice(flood)).toEqual([
      expect.objectContaining({
        msg: 'peer gateway refused',
        identity: 'spiffe://cluster.local/cluster/east/gateway',
        reason: 'certificate serial 1f is revoked',
        peer: '10.1.2.3:4000',
      }),
      expect.objectContaining({
        msg: 'peer gateway refused',
        identity: 'spiffe://cluster.local/cluster/north/gateway',
        peer: '10.1.2.4:4000',
      }),
    ]);
  });

  it.each([
    'ERR_SSL_HTTP_REQUEST',
    'ERR_SSL_HTTPS_PROXY_REQUEST',
    'ERR_SSL_WRONG_VERSION_NUMBER',
    'ERR_SSL_PACKET_LENGTH_TOO_LONG',
  ])('logs a connection that speaks no TLS (%s) at debug, never at warn', async (reason) => {
    start();
    for (let port = 30_000; port < 30_005; port++) reject({ reason, peer: `192.0.2.7:${port}` });
    expect(warnings()).toEqual([]);
    expect(lines.filter((l) => l.level === DEBUG)).toHaveLength(5);
  });
});

describe('sessions of admitted peers ended for a flood', () => {
  it('logs each at warn with the peer cluster, its identity and the error code', async () => {
    start();
    diagnosticsChannel.channel(CHANNELS.sessionError).publish({
      peerCluster: 'east',
      identity: 'spiffe://cluster.local/cluster/east/gateway',
      peer: '10.1.2.3:4000',
      reason: 'flood',
      code: 'ERR_HTTP2_ERROR',
      error: 'Flooding was detected in this HTTP/2 session, and it must be closed',
    });
    expect(warnings()).toEqual([
      expect.objectContaining({
        msg: 'peer gateway session ended: it flooded or broke HTTP/2',
        cluster: 'east',
        identity: 'spiffe://cluster.local/cluster/east/gateway',
        peer: '10.1.2.3:4000',
        reason: 'flood',
        code: 'ERR_HTTP2_ERROR',
      }),
    ]);
  });
});

describe('egress sessions to a remote gateway that stopped answering', () => {
  it('logs one found hung at warn with the gateway and why; a suspicion cleared only at debug', () => {
    start();
    const liveness = diagnosticsChannel.channel(SESSION_LIVENESS_CHANNEL);
    liveness.publish({ gateway: '10.0.0.7:4143', event: 'suspected' });
    liveness.publish({ gateway: '10.0.0.7:4143', event: 'cleared' });
    liveness.publish({ gateway: '10.0.0.7:4143', event: 'hung', reason: 'no PING answer within 2000 ms' });
    expect(warnings()).toEqual([
      expect.objectContaining({
        msg: 'remote gateway stopped answering: its unanswered tunnels are failed and its session takes no new ones (redialled after a backoff)',
        gateway: '10.0.0.7:4143',
        reason: 'no PING answer within 2000 ms',
      }),
    ]);
    expect(lines.filter((l) => l.level === DEBUG).map((l) => l.msg)).toEqual([
      'remote gateway session suspected',
      'remote gateway session cleared',
    ]);
  });
});

describe('dials to a remote gateway that refuses the rotated certificate', () => {
  it('warns once a window while the previous certificate serves; other failed dials are debug', () => {
    start();
    const dial = diagnosticsChannel.channel(CHANNELS.sessionDial);
    const refused = {
      gateway: '10.0.0.7:4143',
      peerCluster: 'west',
      ok: false,
      code: 'GATEWAY_REFUSED',
      reason: 'refused at the TLS handshake',
    };
    for (let i = 0; i < 5; i++) dial.publish({ ...refused, previousCertificateServes: true });
    dial.publish({
      gateway: '10.0.0.8:4143',
      ok: false,
      code: 'GATEWAY_UNREACHABLE',
      previousCertificateServes: false,
    });
    // A redial after a renewal that times out, or finds the remote shutting down, is no refusal.
    dial.publish({
      gateway: '10.0.0.9:4143',
      ok: false,
      code: 'GATEWAY_CONNECT_TIMEOUT',
      previousCertificateServes: true,
    });
    dial.publish({ gateway: '10.0.0.7:4143', ok: true, previousCertificateServes: true });
    expect(warnings()).toEqual([
      expect.objectContaining({
        msg: "remote gateway refuses a session with this gateway's rotated certificate: tunnels go on over the session made with the previous one, until that certificate expires",
        gateway: '10.0.0.7:4143',
        cluster: 'west',
        code: 'GATEWAY_REFUSED',
      }),
    ]);
    clock += 60_001;
    dial.publish({ ...refused, previousCertificateServes: true });
    expect(warnings()[1]).toMatchObject({ gateway: '10.0.0.7:4143', suppressed: 4 });
    expect(lines.filter((l) => l.level === DEBUG).map((l) => [l.msg, l.gateway])).toEqual([
      ['session to a remote gateway failed', '10.0.0.8:4143'],
      ['session to a remote gateway failed', '10.0.0.9:4143'],
    ]);
  });
});

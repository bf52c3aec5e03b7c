/**
 * A probe refused unprocessed (RST_STREAM(REFUSED_STREAM), RFC 9113 §8.7): the remote replica was
 * draining and the probe crossed its GOAWAY. A CONNECT in that position is retried on a new session;
 * so is a probe, once, within its timeout, rather than be answered as the remote's failure (each
 * drain one false failure towards the controller's failureThreshold).
 */

import http2 from 'node:http2';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SessionPool } from './session-pool.js';
import { echo, startTcpBackend } from './test-support/backends.js';
import { CLUSTER_DOMAIN, PROBE_PATH } from './test-support/harness.js';
import { makePki, type TestPki } from './test-support/pki.js';
import { type StandInGateway, startStandInGateway } from './test-support/stand-in-gateway.js';
import { within } from './test-support/wait.js';

const ECHO = `echo.test.svc.${CLUSTER_DOMAIN}:7000`;

let pki: TestPki;
const cleanups: (() => Promise<void> | void)[] = [];
beforeAll(() => {
  pki = makePki();
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/**
 * West's gateway as a replica that drains while our second request is on the wire: on the first
 * session, every stream after the first gets GOAWAY(NO_ERROR, last = the first) and is refused
 * unprocessed, as nghttp2 does a stream above the GOAWAY's id. Later sessions (the replica the load
 * balancer picks next) serve. `refuseAll`: every stream of every session is refused (no GOAWAY).
 */
async function drainingReplica(backendPort: number, refuseAll = false): Promise<StandInGateway> {
  const replica = await startStandInGateway(pki.gateway('west'), backendPort, (stream, session) => {
    if (refuseAll) {
      stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
      return true;
    }
    if (session !== replica.sessions[0] || stream.id! <= 1) return false;
    session.goaway(http2.constants.NGHTTP2_NO_ERROR, stream.id! - 2);
    stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
    return true;
  });
  cleanups.push(() => replica.close());
  return replica;
}

function eastPool(): SessionPool {
  const p = new SessionPool({ secureContext: () => pki.gateway('east'), connectTimeoutMs: 10_000 });
  cleanups.push(() => p.close());
  return p;
}

describe("a probe that crosses a draining replica's GOAWAY", () => {
  it('is asked again on a new session and answers alive, as a CONNECT would', async () => {
    const backend = await startTcpBackend(echo);
    cleanups.push(() => backend.close());
    const remote = await drainingReplica(backend.port);
    const pool = eastPool();
    (await within(pool.openTunnel(remote.address, ECHO), 5_000, 'first tunnel')).destroy(); // stream 1
    const result = await pool.probe(remote.address, PROBE_PATH, 5_000); // stream 3 crosses the GOAWAY
    expect({ alive: result.alive, error: result.error, sessions: remote.sessions.length }).toEqual({
      alive: true,
      error: undefined,
      sessions: 2,
    });
  });

  it('is asked again only once: a remote that refuses every stream fails the probe', async () => {
    const backend = await startTcpBackend(echo);
    cleanups.push(() => backend.close());
    const remote = await drainingReplica(backend.port, true);
    const pool = eastPool();
    const result = await pool.probe(remote.address, PROBE_PATH, 5_000);
    expect(result.alive).toBe(false);
    expect(result.error).toContain('NGHTTP2_REFUSED_STREAM');
    expect(remote.streams()).toBe(2);
  });
});

/**
 * A mirror's egress port that another process holds, as an operator sees it on a running gateway:
 * refused on /routes with the reason, counted by isthmus_egress_listen_failures, logged once (not
 * at every retry), and listened on once the port is free.
 */
import net from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { gatewayOptionsFromFlags } from '../config.js';
import { type RunningGateway, runGateway } from '../run-gateway.js';
import {
  type Cluster,
  createMirror,
  freeEgressPort,
  gatewayFlags,
  linkGateway,
  mirrorService,
  startLinkedClusters,
  waitFor,
} from './fixtures.js';

const EAST_HOST = '127.0.45.1';
const NS = 'test';
const cleanups: Array<() => unknown> = [];
const lines: string[] = [];
let east: Cluster;
let gw: RunningGateway;

beforeAll(async () => {
  ({ east } = await startLinkedClusters(EAST_HOST, NS, cleanups));
  const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) });
  gw = await runGateway(gatewayOptionsFromFlags(gatewayFlags(east, 'east', EAST_HOST)), {
    logger,
    processMetrics: false,
  });
  cleanups.push(() => gw.stop());
  await linkGateway(east.kube, 'west', { host: '192.0.2.7', port: 4143 });
  await waitFor('gateway ready', () => gw.readiness().ready, 15_000);
}, 60_000);

afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

const admin = (path: string) => `http://${gw.admin.address.host}:${gw.admin.address.port}${path}`;
const gauge = async (): Promise<string | undefined> =>
  (await (await fetch(admin('/metrics'))).text())
    .split('\n')
    .find((l) => l.startsWith('isthmus_egress_listen_failures '));
const failureLogs = () => lines.filter((l) => l.includes('egress listeners not fully applied'));

it('a port another process holds: refused on /routes, counted, logged once, listened on once free', async () => {
  const port = await freeEgressPort(EAST_HOST);
  const squatter = net.createServer();
  await new Promise<void>((r) => squatter.listen(port, EAST_HOST, r));
  cleanups.push(() => squatter.listening && new Promise<void>((r) => squatter.close(() => r())));
  const mirror = (service: string, egressPort: number) =>
    mirrorService({ ns: NS, service, cluster: 'west', port: 5432, egressPort, gateway: '192.0.2.7:4143' });
  await createMirror(east.kube, mirror('db', port));

  await waitFor('the port refused on /routes', async () => {
    const body = (await (await fetch(admin('/routes'))).json()) as {
      refused: Array<Record<string, unknown>>;
    };
    return body.refused.some(
      (r) => r.port === port && r.unbound === true && /EADDRINUSE/.test(String(r.reason)),
    );
  });
  expect(await gauge()).toBe('isthmus_egress_listen_failures 1');

  // Another pass (a new mirror) fails on the same port again: not logged again.
  const other = await freeEgressPort(EAST_HOST);
  await createMirror(east.kube, mirror('cache', other));
  await waitFor('the other mirror listened on', () => gw.egress.listening().includes(other));
  expect(failureLogs()).toHaveLength(1);

  await new Promise<void>((r) => squatter.close(() => r()));
  await waitFor('the retry once the port is free', () => gw.egress.listening().includes(port), 15_000);
  await waitFor('the gauge back to 0', async () => (await gauge()) === 'isthmus_egress_listen_failures 0');
  const body = (await (await fetch(admin('/routes'))).json()) as { refused: unknown[] };
  expect(body.refused).toEqual([]);
}, 60_000);

/**
 * `node --import tsx bench/admission-pass.ts`: what one mirror-admission pass costs the gateway's
 * event loop (the one that accepts and pipes every tunnel) with N mirrors: a full pass
 * (`admitRoutes`, what every mirror event used to run), and the watcher's incremental pass
 * (incremental-admission.ts) when one mirror's slice vouches for another port, when only a slice's
 * endpoints changed (the watcher runs no pass for that; shown for the cost if it did), and when
 * a Link changes (every mirror judged again).
 *
 * Flags: --n 1000,10000 (mirrors), --rounds 20.
 */
import { parseArgs } from 'node:util';
import { link, mirrorService } from '../src/gateway/e2e/fixtures.js';
import { incrementalAdmission } from '../src/gateway/incremental-admission.js';
import { admitRoutes } from '../src/gateway/mirror-admission.js';
import { controllerSlice } from '../src/gateway/test-support/mirror-slices.js';
import { vouchedNames, vouchedPorts } from '../src/kube/linkerd-mirror.js';
import type { V1EndpointSlice, V1Service } from '../src/kube/types.js';

const { values } = parseArgs({
  options: { n: { type: 'string', default: '1000,10000' }, rounds: { type: 'string', default: '20' } },
});
const FIRST = 20_000;
const rounds = Number(values.rounds);

function mirrors(n: number): V1Service[] {
  const t0 = Date.parse('2026-01-01T00:00:00Z');
  return Array.from({ length: n }, (_, i) => {
    const s = mirrorService({
      ns: `ns${i % 200}`,
      service: `svc${i}`,
      cluster: 'west',
      port: 80,
      egressPort: FIRST + i,
      gateway: '10.0.0.1:4143',
    });
    s.metadata!.uid = `uid-${i}`;
    s.metadata!.creationTimestamp = new Date(t0 + i * 1000).toISOString() as never;
    return s;
  });
}

/** Median and max of `rounds` runs of `f(round)`, in ms. */
function time(f: (round: number) => void): string {
  const ms: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const start = performance.now();
    f(r);
    ms.push(performance.now() - start);
  }
  ms.sort((a, b) => a - b);
  return `median ${ms[Math.floor(rounds / 2)]!.toFixed(2)} ms, max ${ms[rounds - 1]!.toFixed(2)} ms`;
}

for (const n of values.n.split(',').map(Number)) {
  const services = mirrors(n);
  const slices: V1EndpointSlice[] = services.map(controllerSlice);
  const links = [link('west', '10.0.0.1', 4143)];
  const egressRange = { first: FIRST, last: FIRST + n + 100 };
  let previous = admitRoutes(services, {
    links,
    vouched: vouchedPorts(slices),
    vouchedNames: vouchedNames(slices),
    egressRange,
  }).admitted;
  const full = time(() => {
    previous = admitRoutes(services, {
      links,
      vouched: vouchedPorts(slices),
      vouchedNames: vouchedNames(slices),
      egressRange,
      previous,
    }).admitted;
  });

  const inc = incrementalAdmission(egressRange);
  inc.admit({ services, slices, links });
  const rewrite = (i: number, slice: V1EndpointSlice): void => {
    slices[i] = slice;
  };
  const vouching = time((r) => {
    const i = (r * 7919) % n;
    const extra = r % 2 === 0 ? [{ port: FIRST + n + 1 }] : [];
    rewrite(i, {
      ...controllerSlice(services[i]!),
      ports: [...(controllerSlice(services[i]!).ports ?? []), ...extra],
    });
    inc.admit({ services, slices, links });
  });
  const endpoints = time((r) => {
    const i = (r * 7919) % n;
    rewrite(i, { ...slices[i]!, endpoints: [{ addresses: [`10.1.0.${r % 250}`] }] });
    inc.admit({ services, slices, links });
  });
  const linkChange = time((r) => {
    const l = link('west', '10.0.0.1', 4143);
    l.status = { gatewayAddresses: [`198.51.100.${r}`] } as never;
    inc.admit({ services, slices, links: [l] });
  });
  console.log(`${n} mirrors: full pass ${full}`);
  console.log(`${n} mirrors: incremental, one slice's ports changed: ${vouching}`);
  console.log(`${n} mirrors: incremental, one slice's endpoints changed: ${endpoints}`);
  console.log(`${n} mirrors: incremental, a Link changed (all judged again): ${linkChange}`);
}

/**
 * `node --import tsx bench/handshake.ts`: what a full mutual-TLS 1.3 handshake costs with RSA-2048
 * leaves and with ECDSA P-256 leaves (src/identity/keys.ts), as a gateway's ingress (:4143) pays
 * it. In TLS 1.3 the server signs its CertificateVerify before the client has proven anything, so
 * each handshake a stranger opens costs the server one private-key operation of its leaf.
 *
 * Both pairs are under one trust anchor and issuer made as `isthmus certs` makes them (RSA 3072
 * anchor, RSA 2048 issuer); only the leaves' keys differ. The server is a node:tls server in a
 * child process (requestCert, rejectUnauthorized, TLS 1.3 only) that closes each connection once
 * the handshake is done, so its CPU is all handshakes; the client presents its own leaf and never
 * resumes a session. Prints handshakes per second, server and client CPU per handshake, and the
 * RSA/ECDSA ratios. Times depend on the machine: nothing here is a pass/fail threshold.
 *
 * Flags: --n 2000 (handshakes per pair), --concurrency 8 (in flight), --warmup 100, --rounds 2.
 */
import { fork } from 'node:child_process';
import { constants, createPrivateKey, sign } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { parseArgs } from 'node:util';
import { createIssuer, createTrustAnchor, issueGatewayCertificate } from '../src/identity/ca.js';
import type { LeafKeyType } from '../src/identity/keys.js';

const TRUST_DOMAIN = 'cluster.local';
/** Every wait has a deadline: a lost peer fails the run instead of hanging it. */
const DEADLINE_MS = 10_000;

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '2000' },
    concurrency: { type: 'string', default: '8' },
    warmup: { type: 'string', default: '100' },
    rounds: { type: 'string', default: '2' },
    child: { type: 'boolean', default: false },
  },
});

interface ServerSetup {
  key: string;
  cert: string;
  ca: string;
}

type ToChild = { setup: ServerSetup } | { cpu: true };
type FromChild = { port: number } | { cpu: NodeJS.CpuUsage; handshakes: number };

if (values.child) {
  let server: tls.Server | undefined;
  let handshakes = 0;
  process.on('message', (m: ToChild) => {
    if ('setup' in m) {
      server?.close();
      server = tls.createServer(
        { ...m.setup, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.3' },
        (socket) => {
          handshakes++;
          socket.end();
        },
      );
      server.on('tlsClientError', () => {});
      server.listen(0, '127.0.0.1', () =>
        process.send?.({ port: (server!.address() as AddressInfo).port } satisfies FromChild),
      );
    } else {
      process.send?.({ cpu: process.cpuUsage(), handshakes } satisfies FromChild);
    }
  });
  process.on('disconnect', () => process.exit(0));
} else {
  await main();
}

async function main(): Promise<void> {
  const n = Number(values.n);
  const concurrency = Number(values.concurrency);
  const warmup = Number(values.warmup);
  const rounds = Number(values.rounds);
  const anchor = createTrustAnchor({ trustDomain: TRUST_DOMAIN });
  const issuer = createIssuer(anchor, { cluster: 'west', trustDomain: TRUST_DOMAIN });
  const clientIssuer = createIssuer(anchor, { cluster: 'east', trustDomain: TRUST_DOMAIN });
  const pair = (keyType: LeafKeyType) => {
    const server = issueGatewayCertificate(issuer, { trustDomain: TRUST_DOMAIN, cluster: 'west', keyType });
    const client = issueGatewayCertificate(clientIssuer, {
      trustDomain: TRUST_DOMAIN,
      cluster: 'east',
      keyType,
    });
    return {
      server: { key: server.keyPem, cert: server.chainPem, ca: anchor.certPem },
      client: { key: client.keyPem, cert: client.chainPem, ca: anchor.certPem },
    };
  };
  const pairs = { 'RSA 2048': pair('rsa-2048'), 'ECDSA P-256': pair('ecdsa-p256') } as const;
  // The server's CertificateVerify alone: one signature with its leaf key (RSA-PSS for RSA, as TLS 1.3 signs).
  for (const [name, p] of Object.entries(pairs)) {
    const key = createPrivateKey(p.server.key);
    const rsa = key.asymmetricKeyType === 'rsa';
    const once = () =>
      sign(
        'sha256',
        Buffer.alloc(130),
        rsa ? { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 } : key,
      );
    for (let i = 0; i < 50; i++) once();
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < 500; i++) once();
    const each = Number(process.hrtime.bigint() - t0) / 1e3 / 500;
    console.log(
      `${name.padEnd(11)}: one CertificateVerify signature ${us(each)} (node:crypto sign, 500 in a row)`,
    );
  }

  const child = fork(import.meta.filename, ['--child'], { execArgv: ['--import', 'tsx'] });
  const ask = async <T extends FromChild>(m: ToChild, has: string): Promise<T> => {
    const reply = new Promise<T>((resolve) => {
      const on = (r: FromChild) => {
        if (has in r) {
          child.off('message', on);
          resolve(r as T);
        }
      };
      child.on('message', on);
    });
    child.send(m);
    return withDeadline(reply, `the server child to answer ${has}`);
  };

  console.log(
    `mTLS 1.3 full handshakes, ${n} per pair, ${concurrency} in flight, node ${process.version}, ${process.versions.openssl}`,
  );
  const results: Record<string, Measure[]> = {};
  for (let round = 0; round < rounds; round++) {
    for (const [name, p] of Object.entries(pairs)) {
      const { port } = await ask<{ port: number }>({ setup: p.server }, 'port');
      await handshakes(port, p.client, warmup, concurrency);
      const before = await ask<{ cpu: NodeJS.CpuUsage; handshakes: number }>({ cpu: true }, 'cpu');
      const clientCpu = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      await handshakes(port, p.client, n, concurrency);
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      const client = process.cpuUsage(clientCpu);
      const after = await ask<{ cpu: NodeJS.CpuUsage; handshakes: number }>({ cpu: true }, 'cpu');
      const done = after.handshakes - before.handshakes;
      if (done !== n) throw new Error(`the server completed ${done} handshakes of ${n}`);
      const serverUs = after.cpu.user + after.cpu.system - before.cpu.user - before.cpu.system;
      const m: Measure = {
        perSecond: n / seconds,
        serverCpuUs: serverUs / n,
        clientCpuUs: (client.user + client.system) / n,
      };
      results[name] = [...(results[name] ?? []), m];
      console.log(
        `round ${round + 1} ${name.padEnd(11)}: ${m.perSecond.toFixed(0).padStart(6)} handshakes/s, server CPU ${us(m.serverCpuUs)}/handshake, client CPU ${us(m.clientCpuUs)}/handshake`,
      );
    }
  }
  child.disconnect();

  const best = (name: string) => {
    const all = results[name]!;
    return {
      perSecond: Math.max(...all.map((m) => m.perSecond)),
      serverCpuUs: Math.min(...all.map((m) => m.serverCpuUs)),
      clientCpuUs: Math.min(...all.map((m) => m.clientCpuUs)),
    };
  };
  const rsa = best('RSA 2048');
  const ec = best('ECDSA P-256');
  console.log('best of the rounds:');
  for (const [name, m] of [
    ['RSA 2048', rsa],
    ['ECDSA P-256', ec],
  ] as const)
    console.log(
      `  ${name.padEnd(11)}: ${m.perSecond.toFixed(0).padStart(6)} handshakes/s, server CPU ${us(m.serverCpuUs)}/handshake, client CPU ${us(m.clientCpuUs)}/handshake`,
    );
  console.log(
    `ECDSA P-256 / RSA 2048: ${(ec.perSecond / rsa.perSecond).toFixed(2)}x the handshakes per second; RSA costs the server ${(rsa.serverCpuUs / ec.serverCpuUs).toFixed(2)}x the CPU per handshake, the client ${(rsa.clientCpuUs / ec.clientCpuUs).toFixed(2)}x`,
  );
}

interface Measure {
  perSecond: number;
  serverCpuUs: number;
  clientCpuUs: number;
}

function us(x: number): string {
  return `${x.toFixed(0).padStart(5)} µs`;
}

/** `count` full handshakes to `port`, `concurrency` at a time, each closed once it is done. */
async function handshakes(
  port: number,
  client: ServerSetup,
  count: number,
  concurrency: number,
): Promise<void> {
  let started = 0;
  const worker = async () => {
    while (started < count) {
      started++;
      await handshake(port, client);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}

async function handshake(port: number, client: ServerSetup): Promise<void> {
  const socket = tls.connect({
    ...client,
    host: '127.0.0.1',
    port,
    servername: 'gateway.west.cluster.local',
    minVersion: 'TLSv1.3',
    // The gateways check the SPIFFE ID themselves; here only the chain matters.
    checkServerIdentity: () => undefined,
  });
  try {
    await withDeadline(once(socket, 'secureConnect'), 'a handshake');
    // TLS 1.3: the server checks the client's certificate after the client's Finished; its
    // close (after its own checks) is the end of the handshake for both.
    socket.resume();
    await withDeadline(once(socket, 'close'), 'the server to close');
  } finally {
    socket.destroy();
  }
}

function withDeadline<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no ${what} within ${DEADLINE_MS} ms`)), DEADLINE_MS);
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

/**
 * `isthmus check` reads every gateway replica's certificate, not only the one a handshake through
 * its Service lands on: two replicas, one restarted since the issuer changed and one not, the
 * LoadBalancer answering with the good one. Each replica's admin `/certificate` is read through
 * the API server's pod proxy (the pods' addresses are loopback ones, where their admin servers
 * listen); a gateway older than the endpoint answers 404 and check falls back to the handshake.
 */
import { createServer, type Server } from 'node:http';
import type { Server as TlsServer } from 'node:tls';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { issueGatewayCertificate } from '../../identity/ca.js';
import type { KubeClient } from '../../kube/client.js';
import { PORTS, SYSTEM_NAMESPACE } from '../../kube/keys.js';
import { R } from '../../kube/resources.js';
import type { V1ConfigMap, V1Pod } from '../../kube/types.js';
import { type Sandbox, startSandbox } from '../../sandbox/index.js';
import { checkCertificates } from './checks/certificates.js';
import { checkTrustAnchor } from './checks/trust-anchor.js';
import { gatherFacts } from './gather.js';
import { pod, podStatus } from './test-builders.js';
import {
  checkClient,
  eastMintedAt,
  gatewayIngress,
  installGatewayService,
  installTrust,
  portOf,
} from './test-sandbox.js';

const HOUR = 3600_000;
const DAY = 24 * HOUR;
const GOOD = 'isthmus-gateway-7d9f-aaaaa';
const STALE = 'isthmus-gateway-7d9f-bbbbb';
/** Each pod's address: loopback, so that the pod proxy reaches its admin server below. */
const POD_IPS = { [GOOD]: '127.0.88.41', [STALE]: '127.0.88.42' };

let sandbox: Sandbox;
let client: KubeClient;
let lb: TlsServer;
const admins: Server[] = [];
/** Before step 2, under an anchor still valid; and one that expired a day ago (step 3 late). */
let older: ReturnType<typeof eastMintedAt>;
let expired: ReturnType<typeof eastMintedAt>;
/** The new anchor and issuer, which the restarted replica took its leaf from. */
let next: ReturnType<typeof eastMintedAt>;
/** What each pod's admin `/certificate` answers: a leaf's chain, or 404 (a gateway before it). */
const answers = new Map<string, string | 404>();

async function adminOf(name: string): Promise<Server> {
  const server = createServer((req, res) => {
    const answer = answers.get(name);
    if (req.url !== '/certificate' || answer === undefined || answer === 404) {
      res.writeHead(404).end('not found\n');
      return;
    }
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ chain: answer.match(/-----BEGIN[\s\S]+?-----END CERTIFICATE-----\n/g) }));
  });
  await new Promise<void>((r) => server.listen(PORTS.admin, POD_IPS[name as keyof typeof POD_IPS], r));
  return server;
}

async function runningGatewayPod(name: string): Promise<void> {
  const created = await client.create<V1Pod>(R.pods, { ...pod(name, {}), status: undefined });
  const ip = POD_IPS[name as keyof typeof POD_IPS];
  await client.replaceStatus(R.pods, {
    ...created,
    status: { ...podStatus.running(true), podIP: ip, podIPs: [{ ip }] },
  });
}

async function setAnchors(...anchors: string[]): Promise<void> {
  await client.replace<V1ConfigMap>(R.configMaps, {
    metadata: { name: 'isthmus-trust-anchor', namespace: SYSTEM_NAMESPACE },
    data: { 'ca.crt': anchors.join('') },
  });
}

beforeAll(async () => {
  // The leaves of today: a gateway renews its leaf from the issuer it was started with.
  older = eastMintedAt(new Date(Date.now() - 2 * HOUR), { leafToday: true });
  expired = eastMintedAt(new Date(Date.now() - 11 * DAY), { anchorDays: 10, leafToday: true });
  next = eastMintedAt(new Date(Date.now() - HOUR), { leafToday: true });
  sandbox = await startSandbox({ name: 'east', allowLoopbackEndpoints: true });
  client = checkClient(sandbox);
  for (const name of [GOOD, STALE]) admins.push(await adminOf(name));
  // What the LoadBalancer sends the handshake to: the replica restarted since step 2.
  lb = await gatewayIngress(next.leaf, next.anchor.certPem);
  await client.create(R.namespaces, { metadata: { name: SYSTEM_NAMESPACE } });
  await installTrust(client, next.anchor.certPem, next.issuer);
  await installGatewayService(client, portOf(lb));
  for (const name of [GOOD, STALE]) await runningGatewayPod(name);
});

afterAll(async () => {
  client?.close();
  await new Promise((r) => (lb ? lb.close(r) : r(undefined)));
  await Promise.all(admins.map((a) => new Promise((r) => a.close(r))));
  await sandbox?.close();
});

beforeEach(() => {
  answers.set(GOOD, next.leaf.chainPem);
});

const gather = () => gatherFacts(client, { remoteTimeoutMs: 2000 });

describe('isthmus check with two gateway replicas, the LoadBalancer answering with the good one', () => {
  it('fails naming the replica still under an anchor that expired (step 3 late), not the good one', async () => {
    await setAnchors(next.anchor.certPem, expired.anchor.certPem);
    answers.set(STALE, expired.leaf.chainPem);
    const facts = await gather();
    expect(facts.localGatewayChain).toMatchObject({ ok: true }); // the good replica

    const anchor = checkTrustAnchor(facts);
    expect(anchor.status).toBe('fail');
    expect(anchor.hints).toContainEqual(
      expect.stringMatching(
        new RegExp(
          `^anchor #2 of the 2 in ca\\.crt expired at [^ ]+ but is still in use by gateway pod ${STALE}: every peer refuses the certificate it presents .*kubectl -n isthmus-system delete pod ${STALE}\\b`,
        ),
      ),
    );
    expect(JSON.stringify(anchor)).not.toContain(GOOD);

    const certificates = checkCertificates(facts);
    expect(certificates.status).toBe('fail');
    expect(certificates.hints).toEqual([
      expect.stringMatching(
        new RegExp(
          `expired at [^;]+; it is still in use by gateway pod ${STALE}, whose certificate every peer refuses: .*delete pod ${STALE}\\b`,
        ),
      ),
    ]);
  });

  it('fails naming the replica the bundle refuses once the old anchor is dropped, with no handshake to tell', async () => {
    await setAnchors(next.anchor.certPem);
    answers.set(STALE, older.leaf.chainPem);
    const facts = await gather();
    // One anchor, no CRL: the LoadBalancer is not even dialled.
    expect(facts.localGatewayChain).toBeUndefined();
    const anchor = checkTrustAnchor(facts);
    expect(anchor.status).toBe('fail');
    expect(anchor.hints).toEqual([
      expect.stringMatching(
        new RegExp(
          `^gateway pod ${STALE} presents a certificate that does not chain to ca\\.crt \\(.*\\): every peer refuses it\\. Restart it .*delete pod ${STALE}\\b`,
        ),
      ),
    ]);
  });

  it('warns naming the replica under the old anchor after step 2, and does not advise finishing', async () => {
    await setAnchors(next.anchor.certPem, older.anchor.certPem);
    answers.set(STALE, older.leaf.chainPem);
    const anchor = checkTrustAnchor(await gather());
    expect(anchor.status).toBe('warn');
    expect(JSON.stringify(anchor)).not.toMatch(/--finish/);
    expect(anchor.hints).toContainEqual(
      expect.stringMatching(
        new RegExp(
          `^gateway pod ${STALE} presents a certificate under anchor #2 of the 2 in ca\\.crt, the old one, but its issuer is under the new one: .*delete pod ${STALE}\\b.* before finishing the rotation`,
        ),
      ),
    );
    expect(JSON.stringify(anchor)).not.toContain(GOOD);
  });

  it('advises finishing once every replica was read under the new anchor, with no caveat', async () => {
    await setAnchors(next.anchor.certPem, older.anchor.certPem);
    answers.set(STALE, next.leaf.chainPem);
    const anchor = checkTrustAnchor(await gather());
    expect(anchor.status).toBe('warn');
    expect(anchor.hints).toEqual([
      expect.stringMatching(
        new RegExp(
          `the old one .*--finish.*read the certificate of every running replica of this cluster's gateway \\(${GOOD}, ${STALE}\\): none is under it`,
        ),
      ),
    ]);
  });

  it("falls back to the handshake when a replica's gateway predates /certificate (404), and says so", async () => {
    await setAnchors(next.anchor.certPem, older.anchor.certPem);
    answers.set(GOOD, 404);
    answers.set(STALE, 404);
    const facts = await gather();
    expect(facts.gatewayPodChains).toEqual({
      ok: true,
      value: [GOOD, STALE].map((name) => ({ pod: name, ok: false, error: expect.stringMatching(/404/) })),
    });
    const anchor = checkTrustAnchor(facts);
    // As before the endpoint: the replica the handshake saw is under the new anchor.
    expect(anchor.status).toBe('warn');
    expect(anchor.hints).toEqual([
      expect.stringMatching(
        new RegExp(
          `the old one .*--finish.*could not read the certificate of gateway pods ${GOOD}, ${STALE} \\(.*404.*\\); it saw the one its Service sent a handshake to \\(127\\.0\\.0\\.1:\\d+\\): every replica must have been restarted`,
        ),
      ),
    ]);
  });

  it("warns of clocks, not of the replica, when isthmus-identity's clock ran a minute ahead of the API server's", async () => {
    await setAnchors(next.anchor.certPem);
    const ahead = new Date(Date.now() + 60_000);
    answers.set(
      STALE,
      issueGatewayCertificate(next.issuer, { trustDomain: 'cluster.local', cluster: 'east', now: ahead })
        .chainPem,
    );
    const facts = await gather();
    expect(facts.apiNow).toBeDefined();
    const anchor = checkTrustAnchor(facts);
    expect(anchor.status).toBe('warn');
    expect(anchor.hints).toEqual([
      expect.stringMatching(
        new RegExp(
          `^gateway pod ${STALE} presents a certificate not valid before [^ ]+, \\d+s past the API server's clock: .*time sync \\(NTP\\) of the nodes$`,
        ),
      ),
    ]);
  });
});

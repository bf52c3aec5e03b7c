/**
 * When the gate asks the remote again: against a sandbox API server, counting the questions. An
 * answer stands until a break (a re-list, an ended watch, a failed request); requests that
 * resume together after one share one question; a mismatch lets nothing through, and neither does
 * a remote that said a name once and then cannot say.
 */
import type { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KubeClient } from '../kube/client.js';
import { createInformer } from '../kube/informer.js';
import { INSTALL_CLUSTER_NAME_LABEL, SYSTEM_NAMESPACE } from '../kube/keys.js';
import { R } from '../kube/resources.js';
import type { V1Namespace } from '../kube/types.js';
import { type Sandbox, startSandbox } from '../sandbox/index.js';
import { waitFor } from '../wait-for.js';
import { gatedClient, IdentityGate, RemoteMismatchError, RemoteUnconfirmedError } from './identity-gate.js';
import { type NamedIdentity, type RemoteIdentity, remoteIdentity } from './remote-identity.js';

let sandbox: Sandbox;
let client: KubeClient;
beforeEach(async () => {
  sandbox = await startSandbox({ name: 'west', tls: false });
  client = KubeClient.fromKubeconfigString(sandbox.kubeconfig());
});
afterEach(async () => {
  client.close();
  await sandbox.close();
});

/**
 * A gate whose remote says `says.identity`, counting the questions and the answers heard;
 * `before`: what the remote said on the connection this one starts over from.
 */
function counted(says: { identity: RemoteIdentity }, before?: NamedIdentity) {
  const heard: RemoteIdentity[] = [];
  const state = { asked: 0, heard };
  const gate = new IdentityGate(
    async () => {
      state.asked++;
      return says.identity;
    },
    (answer) => heard.push(answer),
    before,
  );
  return { gate, state, gated: gatedClient(client, gate) };
}

const confirmed: RemoteIdentity = { verdict: 'confirmed' };
const north: RemoteIdentity = { verdict: 'mismatch', installed: 'north' };
/** A watch of Services from `resourceVersion`, as an informer's after its list. */
const watchOf = (c: KubeClient, resourceVersion: string) =>
  c.watch(R.services, { namespace: 'default', resourceVersion, timeoutSeconds: 60 });
const now = async () => (await client.list(R.services, { namespace: 'default' })).resourceVersion;
/** Read as an informer reads it, until it ends. */
const ended = (stream: Readable) => new Promise((r) => stream.once('close', r).resume());

describe('IdentityGate', () => {
  it("passes each informer's first list on the connection's answer, and asks again before a re-list", async () => {
    const { gate, state, gated } = counted({ identity: confirmed });
    await gate.identity();
    await gated.list(R.services, { namespace: 'default' });
    await gated.list(R.endpointSlices, { namespace: 'default' });
    expect(state.asked).toBe(1);
    // The same list again is a re-list (410 Gone, a resync after an outage): what would delete
    // every mirror as an orphan if it came from another cluster.
    await gated.list(R.services, { namespace: 'default' });
    expect(state.asked).toBe(2);
    expect(state.heard).toEqual([confirmed, confirmed]);
  });

  it('asks again before a watch that follows an ended one; watches resumed together share one question', async () => {
    const { gate, state, gated } = counted({ identity: confirmed });
    await gate.identity();
    const rv = await now();
    const [first, second] = await Promise.all([watchOf(gated, rv), watchOf(gated, rv)]);
    expect(state.asked).toBe(1);
    const closed = Promise.all([ended(first), ended(second)]);
    sandbox.faults.dropWatches();
    await closed;
    const resumed = await Promise.all([watchOf(gated, rv), watchOf(gated, rv)]);
    expect(state.asked).toBe(2);
    for (const s of resumed) s.destroy();
  });

  it("two informers resuming together after a reset connection share one question: their checks of the server's version are no re-lists", async () => {
    const { gate, state, gated } = counted({ identity: confirmed });
    await gate.identity();
    const informers = [R.services, R.endpointSlices].map((res) =>
      createInformer(gated, res, { namespace: 'default', backoff: { initialMs: 20, maxMs: 200 } }),
    );
    try {
      for (const i of informers) i.start();
      await Promise.all(informers.map((i) => i.synced));
      await waitFor('both watches open', () => sandbox.stats().openWatches === 2, 10_000);
      const watches = () => client.stats().byVerb.watch ?? 0;
      const checks = () => client.stats().byVerb['list-check'] ?? 0;
      const [watched, checked] = [watches(), checks()];
      sandbox.faults.resetWatches();
      await waitFor('both resumed', () => watches() >= watched + 2 && checks() >= checked + 2, 10_000);
      expect(state.asked).toBe(2);
    } finally {
      await Promise.all(informers.map((i) => i.stop()));
    }
  });

  it('asks again after a failed request', async () => {
    const { gate, state, gated } = counted({ identity: confirmed });
    await gate.identity();
    sandbox.faults.failNext(1, 500);
    await expect(gated.get(R.services, 'default', 'kubernetes')).rejects.toThrow();
    expect(await gated.get(R.services, 'default', 'kubernetes')).toBeDefined();
    expect(state.asked).toBe(2);
  });

  it('refuses every list, watch and get of a remote that is another cluster, asks again at each attempt, and lets them through once it is the right one', async () => {
    const says: { identity: RemoteIdentity } = { identity: confirmed };
    const { gate, state, gated } = counted(says);
    await gate.identity();
    await gated.list(R.services, { namespace: 'default' });
    says.identity = north;
    const rv = await now();
    const before = sandbox.stats().requests;
    await expect(gated.list(R.services, { namespace: 'default' })).rejects.toBeInstanceOf(
      RemoteMismatchError,
    );
    await expect(watchOf(gated, rv)).rejects.toThrow(/answers as cluster "north"/);
    await expect(gated.get(R.services, 'default', 'kubernetes')).rejects.toBeInstanceOf(RemoteMismatchError);
    await expect(
      gated.listResourceVersion(R.services, { namespace: 'default', resourceVersion: rv }),
    ).rejects.toBeInstanceOf(RemoteMismatchError);
    // Nothing reached the remote but the questions (answered here, not by the sandbox).
    expect(sandbox.stats().requests).toBe(before);
    expect(state.asked).toBe(5);

    // The label gone after the mismatch cannot say it is the Link's cluster: still refused.
    says.identity = { verdict: 'unknown', why: 'unlabelled' };
    await expect(gated.list(R.services, { namespace: 'default' })).rejects.toBeInstanceOf(
      RemoteUnconfirmedError,
    );
    expect(state.heard.at(-1)).toEqual({ verdict: 'unconfirmed', why: 'unlabelled', before: north });
    expect(sandbox.stats().requests).toBe(before);

    says.identity = confirmed;
    expect((await gated.list(R.services, { namespace: 'default' })).items.length).toBeGreaterThan(0);
    expect(state.asked).toBe(7);
    expect(state.heard.at(-1)).toEqual(confirmed);
  });

  it.each<[string, RemoteIdentity & { verdict: 'unknown' }]>([
    ['its label gone', { verdict: 'unknown', why: 'unlabelled' }],
    ['its namespace gone', { verdict: 'unknown', why: 'no-namespace' }],
    ['its namespace no longer readable (403)', { verdict: 'unknown', why: 'forbidden' }],
  ])(
    "refuses every list, watch and get of a remote that was confirmed and then cannot say, %s; lets them through once it says the Link's name again",
    async (_what, unknown) => {
      const says: { identity: RemoteIdentity } = { identity: confirmed };
      const { gate, state, gated } = counted(says);
      await gate.identity();
      await gated.list(R.services, { namespace: 'default' });
      says.identity = unknown;
      const rv = await now();
      const before = sandbox.stats().requests;
      // The re-list another cluster at the address would answer with nothing of west's.
      await expect(gated.list(R.services, { namespace: 'default' })).rejects.toBeInstanceOf(
        RemoteUnconfirmedError,
      );
      await expect(watchOf(gated, rv)).rejects.toThrow(/answered as the Link's cluster before/);
      await expect(gated.get(R.services, 'default', 'kubernetes')).rejects.toBeInstanceOf(
        RemoteUnconfirmedError,
      );
      expect(sandbox.stats().requests).toBe(before);
      expect(state.heard.slice(1)).toEqual([
        { verdict: 'unconfirmed', why: unknown.why, before: confirmed },
        { verdict: 'unconfirmed', why: unknown.why, before: confirmed },
        { verdict: 'unconfirmed', why: unknown.why, before: confirmed },
      ]);

      says.identity = confirmed;
      expect((await gated.list(R.services, { namespace: 'default' })).items.length).toBeGreaterThan(0);
      expect(state.heard.at(-1)).toEqual(confirmed);
    },
  );

  it('a connection whose remote never said a name goes on trusting one that cannot say (an install that predates the label)', async () => {
    const { gate, state, gated } = counted({ identity: { verdict: 'unknown', why: 'unlabelled' } });
    await gate.identity();
    for (let i = 0; i < 3; i++)
      expect((await gated.list(R.services, { namespace: 'default' })).items.length).toBeGreaterThan(0);
    expect(state.asked).toBe(3);
    expect(state.heard.every((h) => h.verdict === 'unknown')).toBe(true);
  });

  it('a connection started over after a mismatch or a confirmation refuses a first answer that cannot say', async () => {
    for (const before of [north, confirmed]) {
      const { gate, gated } = counted({ identity: { verdict: 'unknown', why: 'no-namespace' } }, before);
      expect(await gate.identity()).toEqual({ verdict: 'unconfirmed', why: 'no-namespace', before });
      await expect(gated.list(R.services, { namespace: 'default' })).rejects.toBeInstanceOf(
        RemoteUnconfirmedError,
      );
    }
  });

  it("asks the remote's own namespace: labelled, then the label removed, the re-list is refused and nothing is listed", async () => {
    await client.create(R.namespaces, {
      metadata: { name: SYSTEM_NAMESPACE, labels: { [INSTALL_CLUSTER_NAME_LABEL]: 'west' } },
    });
    const heard: RemoteIdentity[] = [];
    const gate = new IdentityGate(
      async () =>
        remoteIdentity(await client.get<V1Namespace>(R.namespaces, undefined, SYSTEM_NAMESPACE), 'west'),
      (answer) => heard.push(answer),
    );
    const gated = gatedClient(client, gate);
    expect(await gate.identity()).toEqual(confirmed);
    await gated.list(R.services, { namespace: 'default' });

    const ns = await client.get<V1Namespace>(R.namespaces, undefined, SYSTEM_NAMESPACE);
    await client.replace<V1Namespace>(R.namespaces, { ...ns, metadata: { ...ns?.metadata, labels: {} } });
    await expect(gated.list(R.services, { namespace: 'default' })).rejects.toThrow(
      /answered as the Link's cluster before and cannot say which cluster it is now \(unlabelled\)/,
    );
    expect(heard).toEqual([confirmed, { verdict: 'unconfirmed', why: 'unlabelled', before: confirmed }]);
  });
});

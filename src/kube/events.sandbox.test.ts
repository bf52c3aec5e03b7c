import { afterEach, describe, expect, it } from 'vitest';
import { startSandbox } from '../sandbox/index.js';
import { KubeClient } from './client.js';
import { EventRecorder, eventErrorChannel, SPAM_BURST, SPAM_REFILL_MS } from './events.js';
import { R } from './resources.js';
import { service } from './test-support.js';
import { requestServiceAccountToken } from './token-request.js';
import { createTokenReviewer } from './token-review.js';
import type { CoreV1Event, V1Service } from './types.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup() {
  const sandbox = await startSandbox({ name: 'east' });
  cleanups.push(() => sandbox.close());
  const client = KubeClient.fromKubeconfigString(sandbox.kubeconfig());
  cleanups.push(() => client.close());
  return { sandbox, client };
}

describe('EventRecorder', () => {
  it('aggregates repeats into one Event with a count', async () => {
    const { client } = await setup();
    const svc = await client.create<V1Service>(R.services, service('default', 'podinfo'));
    const rec = new EventRecorder(client, { component: 'isthmus-mirror' });
    await Promise.all([
      rec.record(svc, 'Warning', 'GatewayUnreachable', 'gateway 10.0.0.1:4143 not alive'),
      rec.record(svc, 'Warning', 'GatewayUnreachable', 'gateway 10.0.0.1:4143 not alive'),
      rec.record(svc, 'Warning', 'GatewayUnreachable', 'gateway 10.0.0.1:4143 not alive'),
    ]);
    await rec.record(svc, 'Normal', 'Mirrored', 'mirrored as podinfo-west');
    const { items } = await client.list<CoreV1Event>(R.events, { namespace: 'default' });
    const warn = items.filter((e) => e.reason === 'GatewayUnreachable');
    expect(warn).toHaveLength(1);
    expect(warn[0]).toMatchObject({
      count: 3,
      type: 'Warning',
      involvedObject: { kind: 'Service', name: 'podinfo', uid: svc.metadata?.uid },
      source: { component: 'isthmus-mirror' },
    });
    expect(items.filter((e) => e.reason === 'Mirrored')).toHaveLength(1);
  });

  it("a follower's Event (fencedWrites refuses it) is not written and not reported as a failure", async () => {
    const { client } = await setup();
    const svc = await client.create<V1Service>(R.services, service('default', 'followed'));
    const failures: unknown[] = [];
    const listen = (m: unknown) => failures.push(m);
    eventErrorChannel.subscribe(listen);
    try {
      const rec = new EventRecorder(
        client.fencedWrites(() => false),
        { component: 'isthmus-mirror' },
      );
      await rec.record(svc, 'Warning', 'CredentialsUnavailable', 'no Secret');
      // A write that fails for another reason is still reported.
      await new EventRecorder(client, { component: 'isthmus-mirror' }).record(
        { ...svc, metadata: { ...svc.metadata, namespace: 'no-such-namespace' } },
        'Warning',
        'Other',
        'x',
      );
    } finally {
      eventErrorChannel.unsubscribe(listen);
    }
    const { items } = await client.list<CoreV1Event>(R.events, { namespace: 'default' });
    expect(items.filter((e) => e.reason === 'CredentialsUnavailable')).toEqual([]);
    expect(failures).toHaveLength(1);
  });

  it('filters spam per object, as client-go: a burst of 25, then one every 5 minutes', async () => {
    const { client } = await setup();
    const link = await client.create<V1Service>(R.services, service('default', 'busy'));
    const quiet = await client.create<V1Service>(R.services, service('default', 'quiet'));
    let now = Date.parse('2026-11-22T12:00:00Z');
    const rec = new EventRecorder(client, { component: 'isthmus-mirror', now: () => now });
    const burst = Array.from({ length: 40 }, (_, i) =>
      rec.record(
        link,
        'Warning',
        'MissingNamespace',
        `team-${i}/api: namespace team-${i} does not exist locally`,
      ),
    );
    await Promise.all(burst);
    const about = async (name: string) =>
      (await client.list<CoreV1Event>(R.events, { namespace: 'default' })).items.filter(
        (e) => e.involvedObject.name === name,
      );
    expect(await about('busy')).toHaveLength(SPAM_BURST);
    // Another object has its own bucket.
    await rec.record(quiet, 'Warning', 'Conflict', 'quiet: not ours');
    expect(await about('quiet')).toHaveLength(1);
    // Refilled one token per 5 minutes.
    await rec.record(link, 'Warning', 'MissingNamespace', 'still dropped');
    now += SPAM_REFILL_MS;
    await rec.record(link, 'Warning', 'MissingNamespace', 'let through after 5 minutes');
    await rec.record(link, 'Warning', 'MissingNamespace', 'dropped again');
    expect((await about('busy')).map((e) => e.message).filter((m) => !m?.startsWith('team-'))).toEqual([
      'let through after 5 minutes',
    ]);
  });

  it('the spam filter forgets the least recently used object, not a busy one recorded long ago', async () => {
    // A stand-in client counting the Events written for each object.
    const written = new Map<string, number>();
    let seq = 0;
    const stub = {
      create: async (_res: unknown, ev: CoreV1Event) => {
        const name = ev.involvedObject.name ?? '';
        written.set(name, (written.get(name) ?? 0) + 1);
        return { ...ev, metadata: { ...ev.metadata, name: `e${seq++}` } };
      },
      patch: async () => ({}),
    } as unknown as KubeClient;
    const now = Date.parse('2026-11-22T12:00:00Z');
    const rec = new EventRecorder(stub, { component: 'isthmus-mirror', now: () => now });
    const obj = (name: string): V1Service => ({
      kind: 'Service',
      metadata: { namespace: 'default', name, uid: name },
    });
    const busy = obj('busy');
    for (let i = 0; i < SPAM_BURST; i++) await rec.record(busy, 'Warning', 'Skipped', `busy ${i}`);
    // An initial sync of thousands of objects, the busy one still being reported among them.
    for (let i = 0; i < 5_000; i++) {
      await rec.record(obj(`svc-${i}`), 'Warning', 'Skipped', 'no namespace');
      if (i % 100 === 0) await rec.record(busy, 'Warning', 'Skipped', `busy again ${i}`);
    }
    // Its bucket stayed empty (no time passed): nothing beyond the first burst was written.
    expect(written.get('busy')).toBe(SPAM_BURST);
  });

  it('never throws when the API is gone', async () => {
    const { sandbox, client } = await setup();
    const errors: unknown[] = [];
    const rec = new EventRecorder(client, { component: 'c', onError: (e) => errors.push(e) });
    await sandbox.faults.goOffline();
    await expect(rec.record(service('default', 'x'), 'Normal', 'R', 'm')).resolves.toBeUndefined();
    expect(errors).toHaveLength(1);
  });
});

describe('TokenReview', () => {
  it('authenticates a known token and refuses an unknown one', async () => {
    const { sandbox, client } = await setup();
    sandbox.addToken('gateway-token', {
      username: 'system:serviceaccount:isthmus-system:isthmus-gateway',
      rules: [],
    });
    const review = createTokenReviewer(client);
    await expect(review('gateway-token')).resolves.toMatchObject({
      authenticated: true,
      username: 'system:serviceaccount:isthmus-system:isthmus-gateway',
    });
    const denied = await review('forged');
    expect(denied.authenticated).toBe(false);
    expect(denied.error).toBeTruthy();
  });

  it('with audiences: accepts only a token bound to one of them (TokenRequest), not an API token', async () => {
    const { client } = await setup();
    await client.create(R.serviceAccounts, { metadata: { name: 'gw', namespace: 'default' } });
    const bound = await requestServiceAccountToken(client, 'default', 'gw', {
      audiences: ['identity.isthmus.dev'],
      expirationSeconds: 3600,
    });
    const api = await requestServiceAccountToken(client, 'default', 'gw', {
      audiences: [],
      expirationSeconds: 3600,
    });
    const review = createTokenReviewer(client);
    await expect(review(bound.token, ['identity.isthmus.dev'])).resolves.toMatchObject({
      authenticated: true,
      username: 'system:serviceaccount:default:gw',
    });
    expect(await review(api.token, ['identity.isthmus.dev'])).toMatchObject({
      authenticated: false,
      error: expect.stringContaining('is invalid for the target audiences ["identity.isthmus.dev"]'),
    });
    expect((await review(bound.token)).authenticated).toBe(false);
  });
});

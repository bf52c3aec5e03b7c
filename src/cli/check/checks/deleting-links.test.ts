/** A Link being deleted, as the checks see it: its own state, its mirrors on their way out. */
import { describe, expect, it } from 'vitest';
import { LINK_FINALIZER } from '../../../kube/keys.js';
import type { Link } from '../../../kube/types.js';
import { healthyFacts, link, mirror } from '../test-builders.js';
import type { CheckFacts } from '../types.js';
import { checkGatewayListeners } from './gateway-listeners.js';
import { checkLinksValid } from './links.js';
import { checkMirrorEndpoints, checkMirrorsOwned } from './mirrors.js';

const MINUTE = 60_000;

/** West unlinked `agoMs` before `now`: its Link held by `finalizers`, its mirror still there. */
function unlinkingWest(agoMs: number, finalizers = [LINK_FINALIZER]): CheckFacts {
  const f = healthyFacts({ anchorPem: '', issuerPem: '', westChain: [] });
  const west: Link = link('west');
  west.metadata = {
    ...west.metadata,
    finalizers,
    deletionTimestamp: new Date(f.now.getTime() - agoMs),
  };
  f.links = { ok: true, value: [] };
  f.linksBeingDeleted = [west];
  // The gateways no longer admit west's routes (src/gateway/peers.ts: clustersOfLink).
  f.gatewayListeners = {
    ok: true,
    value: [
      {
        pod: 'isthmus-gateway-a',
        ready: true,
        ports: [],
        refused: [
          {
            mirror: 'test/podinfo-west',
            reason:
              'cluster "west" has no Link: only the mirrors the controller writes for a Link are routed',
          },
        ],
      },
    ],
  };
  return f;
}

describe('a Link being deleted', () => {
  it('is a warning while the leading controller has had a normal while to release it', () => {
    const result = checkLinksValid(unlinkingWest(MINUTE));
    expect(result).toEqual({
      description: 'every Link is valid',
      status: 'warn',
      hints: [
        `Link west is being deleted (deletionTimestamp set 60s ago): isthmus-controller removes its mirrors, then releases its finalizer ${LINK_FINALIZER}`,
      ],
    });
  });

  it('fails once the leading controller has held it longer than a clean-up takes', () => {
    const result = checkLinksValid(unlinkingWest(10 * MINUTE));
    expect(result.status).toBe('fail');
    expect(result.hints).toEqual([
      `Link west is being deleted (deletionTimestamp set 600s ago), and the leading isthmus-controller has not released its finalizer ${LINK_FINALIZER}: it cannot delete the Link's mirrors; see its log (\`kubectl -n isthmus-system logs deploy/isthmus-controller\`)`,
    ]);
  });

  it('says whose finalizer holds it when it is not the controller’s', () => {
    expect(checkLinksValid(unlinkingWest(10 * MINUTE, ['example.com/gitops'])).hints).toEqual([
      "Link west is being deleted (deletionTimestamp set 600s ago): held by finalizer(s) example.com/gitops, not isthmus-controller's",
    ]);
  });

  it('leaves its mirrors as being removed with it, not strays to delete, in both mirror checks', () => {
    const f = unlinkingWest(MINUTE);
    const removed =
      'test/podinfo-west: being removed with Link west (being deleted): the controller deletes it before it releases the Link';
    expect(checkMirrorsOwned(f)).toMatchObject({ status: 'warn', hints: [removed] });
    f.mirrors = { ok: true, value: [mirror('podinfo-west', 'west', 0)] };
    expect(checkMirrorEndpoints(f)).toMatchObject({ status: 'ok', hints: [] });
    expect(checkGatewayListeners(f)).toMatchObject({
      status: 'warn',
      hints: [
        'test/podinfo-west: cluster "west" has no Link: only the mirrors the controller writes for a Link are routed: being removed with Link west (being deleted): the controller deletes it before it releases the Link',
      ],
    });
  });

  it('is no excuse for its mirrors once isthmus-controller has released it (another finalizer holds it)', () => {
    // The controller deleted the mirrors, then its finalizer: what survives is a stray.
    const f = unlinkingWest(3 * 60 * MINUTE, ['example.com/gitops']);
    expect(checkMirrorsOwned(f).status).toBe('fail');
    expect(checkMirrorsOwned(f).hints.join('\n')).not.toContain('being removed with Link');
    f.mirrors = { ok: true, value: [mirror('podinfo-west', 'west', 0)] };
    expect(checkMirrorEndpoints(f).hints).not.toEqual([]);
    const refused = checkGatewayListeners(f);
    expect(refused.status).toBe('fail');
    expect(refused.hints.join('\n')).toContain('it is no mirror: delete it');
  });

  it('is no excuse for a mirror of a cluster a live Link still targets', () => {
    const f = unlinkingWest(MINUTE);
    f.mirrors = { ok: true, value: [mirror('podinfo-south', 'south')] };
    expect(checkMirrorsOwned(f).status).toBe('fail');
  });
});

/**
 * What `isthmus check` says of what a move from Linkerd multicluster left behind: a Linkerd mirror
 * of a linked cluster without endpoints, a slice of an Isthmus mirror that another writer made, and
 * a TrafficSplit linkerd-failover steers whose backends include an Isthmus mirror.
 */
import { describe, expect, it } from 'vitest';
import { splitPem } from '../../../identity/index.js';
import { testGatewayCertificate, testPki } from '../../../identity/testing.js';
import type { TrafficSplit } from '../../../kube/types.js';
import {
  type ForeignMirror,
  type ForeignSlice,
  flagValue,
  type LinkerdFailover,
} from '../linkerd-leftovers.js';
import { healthyFacts, link, linkFacts } from '../test-builders.js';
import type { CheckFacts, DeploymentFacts } from '../types.js';
import { checkExportsMirrored } from './links.js';
import { checkMirrorEndpoints } from './mirrors.js';
import { checkTrafficSplits } from './traffic-splits.js';

const facts = healthyFacts({
  anchorPem: testPki().anchor.certPem,
  issuerPem: testPki().issuers.east.certPem,
  westChain: splitPem(testGatewayCertificate('west').chainPem),
});

/** Linkerd's web-west in namespace test, of linked cluster west, with no ready endpoint. */
const linkerdMirror = (changes: Partial<ForeignMirror> = {}): ForeignMirror => ({
  namespace: 'test',
  name: 'web-west',
  cluster: 'west',
  linkerd: true,
  readyEndpoints: 0,
  ...changes,
});

const withMirrors = (mirrors: ForeignMirror[], linkerdLinks: CheckFacts['linkerdLinks']): CheckFacts => ({
  ...facts,
  foreignMirrors: { ok: true, value: mirrors },
  ...(linkerdLinks ? { linkerdLinks } : {}),
});

const DELETE =
  '`kubectl delete endpoints -n test web-west --ignore-not-found && kubectl delete svc -n test web-west`';

describe('checkMirrorEndpoints: a mirror of a linked cluster that Isthmus did not make', () => {
  it('Linkerd multicluster uninstalled: fails, naming it and the commands that let Isthmus take the name', () => {
    const result = checkMirrorEndpoints(withMirrors([linkerdMirror()], { ok: true, value: undefined }));
    expect(result.status).toBe('fail');
    expect(result.hints).toEqual([
      `test/web-west: no ready endpoint: Linkerd's mirror of cluster west, which Isthmus links, holds the name, so Isthmus does not mirror west's Service under it and its callers reach nothing; Linkerd multicluster is not installed, so nothing fills it: ${DELETE} let Isthmus take the name (the Endpoints first, or kube's EndpointSlice mirroring copies it into the slices of Isthmus's mirror)`,
    ]);
  });

  it("Linkerd's Link to that cluster is gone: the same commands", () => {
    const links = {
      ok: true as const,
      value: [{ namespace: 'linkerd-multicluster', name: 'north', cluster: 'north' }],
    };
    const result = checkMirrorEndpoints(withMirrors([linkerdMirror()], links));
    expect(result.status).toBe('fail');
    expect(result.hints[0]).toContain('no links.multicluster.linkerd.io names west, so nothing fills it');
    expect(result.hints[0]).toContain(DELETE);
  });

  it("Linkerd's Link to that cluster is still there: fails, and says to finish unlinking rather than to delete", () => {
    const links = {
      ok: true as const,
      value: [{ namespace: 'linkerd-multicluster', name: 'west', cluster: 'west' }],
    };
    const result = checkMirrorEndpoints(withMirrors([linkerdMirror()], links));
    expect(result.status).toBe('fail');
    expect(result.hints).toEqual([
      `test/web-west: no ready endpoint: Linkerd's mirror of cluster west, which Isthmus links, holds the name, so Isthmus does not mirror west's Service under it and its callers reach nothing; Linkerd's Link linkerd-multicluster/west still mirrors west and lists no ready gateway for it: finish unlinking west from Linkerd (README, "Moving from Linkerd multicluster", step 2), then ${DELETE}`,
    ]);
  });

  it("Linkerd's headless mirror, its Link still there: warns, since it lists one address per ready remote pod, so none is the remote Service's state", () => {
    const links = {
      ok: true as const,
      value: [{ namespace: 'linkerd-multicluster', name: 'west', cluster: 'west' }],
    };
    const result = checkMirrorEndpoints(withMirrors([linkerdMirror({ headless: true })], links));
    expect(result.status).toBe('warn');
    expect(result.hints).toEqual([
      `test/web-west: no ready endpoint: Linkerd's headless mirror of cluster west, which Isthmus links, holds the name, and Linkerd's Link linkerd-multicluster/west still mirrors west: it lists one address per ready pod of west's Service, so none means that Service has no ready pod there (its state, not a gateway's); finish unlinking west from Linkerd (README, "Moving from Linkerd multicluster", step 2), then ${DELETE}`,
    ]);
  });

  it("Linkerd's headless mirror with no Link left to fill it: fails as any other", () => {
    const result = checkMirrorEndpoints(
      withMirrors([linkerdMirror({ headless: true })], { ok: true, value: undefined }),
    );
    expect(result.status).toBe('fail');
  });

  it("Linkerd's Links unreadable: fails, with the commands for once no Link names the cluster", () => {
    const result = checkMirrorEndpoints(withMirrors([linkerdMirror()], { ok: false, error: 'forbidden' }));
    expect(result.status).toBe('fail');
    expect(result.hints[0]).toContain(
      `cannot read links.multicluster.linkerd.io (forbidden): once no Linkerd Link names west, ${DELETE}`,
    );
  });

  it('a hand-labelled one is named as such', () => {
    const result = checkMirrorEndpoints(
      withMirrors([linkerdMirror({ linkerd: false })], { ok: true, value: undefined }),
    );
    expect(result.hints[0]).toMatch(
      /^test\/web-west: no ready endpoint: a Service labelled by hand as a mirror of cluster west, which Isthmus links, holds the name/,
    );
  });

  const westLink = {
    ok: true as const,
    value: [{ namespace: 'linkerd-multicluster', name: 'west', cluster: 'west' }],
  };

  it.each<[string, ForeignMirror, CheckFacts['linkerdLinks']]>([
    [
      "one with a ready endpoint that Linkerd's Link still fills",
      linkerdMirror({ readyEndpoints: 1 }),
      westLink,
    ],
    [
      "one of a cluster Isthmus does not link (Linkerd's own business)",
      linkerdMirror({ cluster: 'north' }),
      { ok: true, value: undefined },
    ],
    [
      'a hand-labelled one with a ready endpoint (whoever fills it)',
      linkerdMirror({ linkerd: false, readyEndpoints: 1 }),
      { ok: true, value: undefined },
    ],
  ])('%s passes', (_name, m, links) => {
    expect(checkMirrorEndpoints(withMirrors([m], links))).toMatchObject({ status: 'ok', hints: [] });
  });

  it("Linkerd's with ready endpoints but no Linkerd Link left to update them: warns, with the same commands", () => {
    const result = checkMirrorEndpoints(
      withMirrors([linkerdMirror({ readyEndpoints: 1 })], { ok: true, value: [] }),
    );
    expect(result.status).toBe('warn');
    expect(result.hints).toEqual([
      `test/web-west: Linkerd's mirror of cluster west, which Isthmus links, holds the name with the 1 endpoint(s) Linkerd last wrote (its gateway), and no links.multicluster.linkerd.io names west, so nothing updates them: ${DELETE} let Isthmus take the name (the Endpoints first, or kube's EndpointSlice mirroring copies it into the slices of Isthmus's mirror)`,
    ]);
  });

  it('unread: a warning that says what could not be read, the other mirrors judged as ever', () => {
    const result = checkMirrorEndpoints({
      ...facts,
      foreignMirrors: { ok: false, error: 'forbidden' },
      foreignSlices: { ok: false, error: 'timeout' },
    });
    expect(result).toMatchObject({
      status: 'warn',
      hints: [
        'cannot read the mirror-labelled Services that Isthmus did not make (a leftover of Linkerd may hold a name): forbidden',
        "cannot read the EndpointSlices of Isthmus's mirrors that another writer made: timeout",
      ],
    });
  });
});

describe("checkExportsMirrored: a Conflict with Linkerd's mirror once Linkerd's Link is gone", () => {
  const CONFLICT =
    "Service test/web-west is Linkerd's mirror of west: unlink west from Linkerd multicluster first";
  const conflicted = (linkerdLinks: CheckFacts['linkerdLinks'], mirrors = [linkerdMirror()]): CheckFacts => {
    const l = link('west');
    l.status!.services = [{ namespace: 'test', name: 'web', reason: 'Conflict', message: CONFLICT }];
    return { ...withMirrors(mirrors, linkerdLinks), links: { ok: true, value: [linkFacts(l)] } };
  };

  it('says the advice cannot be followed, and where the commands are', () => {
    const result = checkExportsMirrored(conflicted({ ok: true, value: [] }));
    expect(result.hints).toEqual([
      `Link west: test/web is not mirrored (Conflict: ${CONFLICT}); no links.multicluster.linkerd.io names west, so there is nothing of Linkerd to unlink: "every mirror service has endpoints" gives the commands that let Isthmus take test/web-west`,
    ]);
  });

  it.each<[string, CheckFacts]>([
    [
      "Linkerd's Link still there",
      conflicted({ ok: true, value: [{ namespace: 'l', name: 'west', cluster: 'west' }] }),
    ],
    ["Linkerd's Links unread", conflicted({ ok: false, error: 'forbidden' })],
    ['the conflicting Service not among the foreign mirrors', conflicted({ ok: true, value: [] }, [])],
  ])("%s: the controller's message as it is", (_name, f) => {
    expect(checkExportsMirrored(f).hints).toEqual([
      `Link west: test/web is not mirrored (Conflict: ${CONFLICT})`,
    ]);
  });
});

/** A slice of Isthmus's mirror test/podinfo-west that kube's EndpointSlice mirroring wrote. */
const mirroredSlice = (changes: Partial<ForeignSlice> = {}): ForeignSlice => ({
  namespace: 'test',
  name: 'podinfo-west-l5d01',
  service: 'podinfo-west',
  managedBy: 'endpointslicemirroring-controller.k8s.io',
  addresses: ['172.18.0.9:4143'],
  ...changes,
});

describe('checkMirrorEndpoints: slices of an Isthmus mirror that another writer made', () => {
  const check = (slices: ForeignSlice[]) =>
    checkMirrorEndpoints({ ...facts, foreignSlices: { ok: true, value: slices } });

  it('copied from a leftover Endpoints: fails, naming the Endpoints to delete and where traffic goes', () => {
    const result = check([mirroredSlice()]);
    expect(result.status).toBe('fail');
    expect(result.hints).toEqual([
      "test/podinfo-west: EndpointSlice test/podinfo-west-l5d01 is not Isthmus's: kube's EndpointSlice mirroring copies it from Endpoints test/podinfo-west, which Isthmus never writes (as a rule Linkerd's, left over from the move), so kube-proxy sends part of the mirror's traffic to 172.18.0.9:4143 instead of through this cluster's gateway: `kubectl delete endpoints -n test podinfo-west` (the copy goes with it)",
    ]);
  });

  it('written by another manager, or none: fails, naming the slice to delete', () => {
    const result = check([
      mirroredSlice({ name: 'podinfo-west-x', managedBy: 'example.com/writer' }),
      mirroredSlice({ name: 'podinfo-west-y', managedBy: undefined, addresses: [] }),
    ]);
    expect(result.status).toBe('fail');
    expect(result.hints).toEqual([
      "test/podinfo-west: EndpointSlice test/podinfo-west-x is not Isthmus's: example.com/writer writes it, so kube-proxy sends part of the mirror's traffic to 172.18.0.9:4143 instead of through this cluster's gateway: stop what writes it and `kubectl delete endpointslice -n test podinfo-west-x`",
      "test/podinfo-west: EndpointSlice test/podinfo-west-y is not Isthmus's: it names no endpointslice.kubernetes.io/managed-by, so kube-proxy sends part of the mirror's traffic to no address yet instead of through this cluster's gateway: stop what writes it and `kubectl delete endpointslice -n test podinfo-west-y`",
    ]);
  });
});

/**
 * Split test/podinfo labelled for `controlledBy`, primary podinfo, backup podinfo-west: the Isthmus
 * mirror of the healthy facts.
 */
const split = (controlledBy: string, primary: string | null = 'podinfo'): TrafficSplit => ({
  metadata: {
    namespace: 'test',
    name: 'podinfo',
    labels: { 'failover.linkerd.io/controlled-by': controlledBy },
    ...(primary ? { annotations: { 'failover.linkerd.io/primary-service': primary } } : {}),
  },
  spec: {
    service: 'podinfo',
    backends: [
      { service: 'podinfo', weight: 1 },
      { service: 'podinfo-west', weight: 0 },
    ],
  },
});

const linkerdFailover = (changes: Partial<LinkerdFailover> = {}): LinkerdFailover => ({
  namespace: 'linkerd-failover',
  name: 'linkerd-failover',
  available: 1,
  selector: 'failover.linkerd.io/controlled-by=linkerd-failover',
  ...changes,
});

/** Isthmus's controller installed with `--failover-controlled-by=isthmus`. */
const isthmusController: DeploymentFacts = {
  name: 'isthmus-controller',
  replicas: 1,
  available: 1,
  args: ['isthmus', 'controller', '--in-cluster', '--failover-controlled-by=isthmus'],
};

const splitFacts = (
  splits: TrafficSplit[],
  failover: CheckFacts['linkerdFailover'],
  controller: DeploymentFacts = isthmusController,
): CheckFacts => ({
  ...facts,
  deployments: { ok: true, value: [controller] },
  labelledSplits: { ok: true, value: splits },
  ...(failover ? { linkerdFailover: failover } : {}),
});

const RELABEL =
  "move the split to Isthmus's failover controller: `kubectl -n test label trafficsplit podinfo failover.linkerd.io/controlled-by=isthmus --overwrite`";

describe('checkTrafficSplits: a split left to linkerd-failover whose backends include an Isthmus mirror', () => {
  it('a running linkerd-failover selects it: fails, naming the split and the mirror, and the move', () => {
    const result = checkTrafficSplits(
      splitFacts([split('linkerd-failover')], { ok: true, value: [linkerdFailover()] }),
    );
    expect(result.status).toBe('fail');
    expect(result.hints).toEqual([
      `TrafficSplit test/podinfo: linkerd-failover (linkerd-failover/linkerd-failover) steers it, and it reads readiness from core/v1 Endpoints, which Isthmus's mirror podinfo-west has none of: it counts podinfo-west never ready, so when the primary podinfo fails it sets every weight to 0 instead of failing over; ${RELABEL}`,
    ]);
  });

  it('the primary itself a mirror: says traffic never goes to it', () => {
    const s = split('linkerd-failover', 'podinfo-west');
    const result = checkTrafficSplits(splitFacts([s], { ok: true, value: [linkerdFailover()] }));
    expect(result.status).toBe('fail');
    expect(result.hints[0]).toContain(
      'it counts podinfo-west never ready, so it never sends traffic to the primary podinfo-west, and sets every weight to 0 when no other backend is ready;',
    );
  });

  it('no running linkerd-failover selects it: warns, since one that did would', () => {
    for (const failover of [
      [],
      [linkerdFailover({ available: 0 })],
      [linkerdFailover({ selector: 'team=a' })],
    ]) {
      const result = checkTrafficSplits(
        splitFacts([split('linkerd-failover')], { ok: true, value: failover }),
      );
      expect(result.status).toBe('warn');
      expect(result.hints).toEqual([
        `TrafficSplit test/podinfo: labelled failover.linkerd.io/controlled-by=linkerd-failover, which Isthmus's failover controller does not act on (it acts on isthmus), and no running linkerd-failover selects it: a linkerd-failover that did would read readiness from core/v1 Endpoints, which Isthmus's mirror podinfo-west has none of, so it would count podinfo-west never ready; ${RELABEL}`,
      ]);
    }
  });

  it('the labelled splits unread: warns, saying so', () => {
    const result = checkTrafficSplits({
      ...splitFacts([], undefined),
      labelledSplits: { ok: false, error: 'timeout' },
    });
    expect(result).toMatchObject({
      status: 'warn',
      hints: [
        "cannot read the TrafficSplits labelled for a failover controller (linkerd-failover's among them): timeout",
      ],
    });
  });

  it("linkerd-failover's Deployments unreadable: warns, saying so", () => {
    const result = checkTrafficSplits(
      splitFacts([split('linkerd-failover')], { ok: false, error: 'forbidden' }),
    );
    expect(result.status).toBe('warn');
    expect(result.hints[0]).toContain("(cannot read linkerd-failover's Deployments: forbidden)");
  });

  it("Isthmus's controller and a running linkerd-failover both act on it: fails, saying to remove linkerd-failover's hold", () => {
    const result = checkTrafficSplits(
      splitFacts(
        [split('linkerd-failover')],
        { ok: true, value: [linkerdFailover()] },
        {
          ...isthmusController,
          args: ['isthmus', 'controller', '--failover-controlled-by', 'linkerd-failover'],
        },
      ),
    );
    expect(result.status).toBe('fail');
    expect(result.hints[0]).toMatch(
      /Isthmus's failover controller acts on it too \(controlled-by=linkerd-failover\): the two rewrite each other's weights; uninstall linkerd-failover, or give it a --selector that leaves this split out$/,
    );
  });

  it.each<[string, TrafficSplit, LinkerdFailover[]]>([
    ["Isthmus's own, no linkerd-failover", split('isthmus'), []],
    ["Isthmus's own, linkerd-failover selects another value", split('isthmus'), [linkerdFailover()]],
    [
      'no primary annotation: linkerd-failover skips it',
      split('linkerd-failover', null),
      [linkerdFailover()],
    ],
    [
      'no backend is an Isthmus mirror',
      {
        ...split('linkerd-failover'),
        spec: { service: 'podinfo', backends: [{ service: 'podinfo', weight: 1 }] },
      },
      [linkerdFailover()],
    ],
  ])('%s: nothing said', (_name, s, failover) => {
    expect(checkTrafficSplits(splitFacts([s], { ok: true, value: failover }))).toMatchObject({
      status: 'ok',
      hints: [],
    });
  });

  it("with no controller Deployment read, Isthmus's value is its default (linkerd-failover)", () => {
    const result = checkTrafficSplits({
      ...splitFacts([split('linkerd-failover')], { ok: true, value: [] }),
      deployments: { ok: true, value: [] },
    });
    expect(result.status).toBe('ok');
  });
});

describe("checkTrafficSplits: linkerd-failover's selector and the move to Isthmus", () => {
  /** linkerd-failover as run without --selector: its binary's existence default. */
  const anyValue = linkerdFailover({ selector: 'failover.linkerd.io/controlled-by' });

  it('an existence selector: no relabel offered (it would pick the relabelled split too), but a --selector naming a value or uninstalling', () => {
    const before = checkTrafficSplits(
      splitFacts([split('linkerd-failover')], { ok: true, value: [anyValue] }),
    );
    expect(before.status).toBe('fail');
    expect(before.hints).toEqual([
      expect.stringMatching(
        /steers it, .*; relabelling it to Isthmus's value \(failover\.linkerd\.io\/controlled-by=isthmus\) would not take it from linkerd-failover \(linkerd-failover\/linkerd-failover\), whose selector failover\.linkerd\.io\/controlled-by picks that value too: give linkerd-failover a --selector naming a value other than isthmus \(`--selector=failover\.linkerd\.io\/controlled-by=<value>`\), or uninstall it; then move the split$/,
      ),
    ]);
    expect(before.hints[0]).not.toContain('kubectl -n test label');
  });

  it('a selector naming a value: the relabel, which clears the failure', () => {
    const before = checkTrafficSplits(
      splitFacts([split('linkerd-failover')], { ok: true, value: [linkerdFailover()] }),
    );
    expect(before.hints[0]).toContain(RELABEL);
    const after = checkTrafficSplits(
      splitFacts([split('isthmus')], { ok: true, value: [linkerdFailover()] }),
    );
    expect(after.status).toBe('ok');
  });

  it("the controller Deployment unread: Isthmus's value from the install record", () => {
    const result = checkTrafficSplits({
      ...splitFacts([split('linkerd-failover')], { ok: true, value: [linkerdFailover()] }),
      deployments: { ok: false, error: 'forbidden' },
      recordedControlledBy: 'isthmus',
    });
    expect(result.hints[0]).toContain(RELABEL);
  });
});

describe('flagValue', () => {
  it.each<[string[], string | undefined]>([
    [['--selector', 'a=b'], 'a=b'],
    [['--selector=a=b'], 'a=b'],
    [['-l', 'a=b'], 'a=b'],
    [['-l=a=b'], 'a=b'],
    // clap's attached short form.
    [['-la=b'], 'a=b'],
    [
      ['--log-level=info', '-lfailover.linkerd.io/controlled-by=team-a'],
      'failover.linkerd.io/controlled-by=team-a',
    ],
    [['--log-level=info'], undefined],
  ])('%j → %s', (args, value) => {
    expect(flagValue(args, ['--selector', '-l'])).toBe(value);
  });

  it('a long flag does not take what follows its name attached', () => {
    expect(flagValue(['--selectorx'], ['--selector'])).toBeUndefined();
  });
});

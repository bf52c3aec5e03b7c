import { X509Certificate } from 'node:crypto';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { refusedAtHandshake } from '../../../gateway/session-support.js';
import { createCrl } from '../../../identity/crl.js';
import {
  createIssuer,
  createTrustAnchor,
  issueGatewayCertificate,
  type KeyPairPem,
  splitPem,
} from '../../../identity/index.js';
import { foreignTestPki, testGatewayCertificate, testPki } from '../../../identity/testing.js';
import { lookAlike, VALID } from '../../../identity/testing-look-alike.js';
import type { TrafficSplit } from '../../../kube/types.js';
import { VERSION } from '../../../version.js';
import { checksPassed } from '../render.js';
import {
  HEALTHY_CONDITIONS,
  healthyFacts,
  link,
  linkFacts,
  mirror,
  pod,
  podStatus,
} from '../test-builders.js';
import type { CheckFacts, CheckResult, RefusedClaim } from '../types.js';

import {
  CHECKS,
  checkCertificates,
  checkController,
  checkCrds,
  checkCredentials,
  checkDeployments,
  checkExportsMirrored,
  checkFederated,
  checkGatewayListeners,
  checkGatewaysAlive,
  checkLinksValid,
  checkMirrorEndpoints,
  checkMirrorsOwned,
  checkPermissions,
  checkRevocation,
  checkTrafficSplits,
  checkTrustAnchor,
  checkVersions,
  expiryVerdict,
  runChecks,
} from './index.js';

const federatedRow = (serving: Record<string, number>, affinity = 'none', standby: string[] = []) => ({
  namespace: 'shop',
  service: 'cart-federated',
  members: ['east', 'west'],
  affinity,
  serving,
  standby,
});

/** A failover split the controller handled (generation 2), with `condition` replacing its namesake. */
function split(condition?: { type: string; status: string; reason: string; message: string }): TrafficSplit {
  const healthy = ['Accepted', 'ResolvedRefs', 'Available', 'Steered'].map((type) => ({
    type,
    status: 'True',
    reason: type,
    message: '',
    lastTransitionTime: new Date('2026-11-23T00:00:00Z'),
  }));
  const conditions = healthy.map((c) => (c.type === condition?.type ? { ...c, ...condition } : c));
  return {
    metadata: { namespace: 'test', name: 'podinfo', generation: 2 },
    spec: { service: 'podinfo', backends: [{ service: 'podinfo', weight: 100 }] },
    status: { observedGeneration: 2, state: 'Primary', conditions },
  };
}

const pki = {
  anchorPem: testPki().anchor.certPem,
  issuerPem: testPki().issuers.east.certPem,
  westChain: splitPem(testGatewayCertificate('west').chainPem),
};
const foreignChain = splitPem(
  issueGatewayCertificate(foreignTestPki().issuers.west, { trustDomain: 'cluster.local', cluster: 'west' })
    .chainPem,
);

/** West issuer's CRL, alone (the gateways refuse it) or in a bundle as `certs revoke` writes it. */
function createWestCrl(serials: string[]): string {
  const issuer = testPki().issuers.west;
  return createCrl({
    issuerCertPem: issuer.certPem,
    issuerKeyPem: issuer.keyPem,
    revoked: serials.map((serial) => ({ serial, revokedAt: new Date(), reason: 'keyCompromise' as const })),
    crlNumber: 1n,
  });
}
/** East's issuer's CRL revoking `serials`, in a bundle as `certs revoke --cluster east` writes it. */
function eastCrl(serials: string[]): string {
  const issuer = testPki().issuers.east;
  return (
    issuer.certPem +
    createCrl({
      issuerCertPem: issuer.certPem,
      issuerKeyPem: issuer.keyPem,
      revoked: serials.map((serial) => ({ serial, revokedAt: new Date(), reason: 'keyCompromise' as const })),
      crlNumber: 1n,
    })
  );
}
/**
 * The controller's Lease as a hung leader leaves it (`kill -STOP`): held by c-0, renewed a minute
 * ago, 15 s long, so expired 45 s ago; the Link status is what c-0 last wrote.
 */
function leaseExpired(f: CheckFacts): void {
  const renewTime = new Date(f.now.getTime() - 60_000).toISOString();
  f.lease = { ok: true, value: { holder: 'c-0', renewTime, leaseDurationSeconds: 15 } };
}
const STALE =
  /is stale and cannot be trusted: Lease isthmus-system\/isthmus-mirror held by c-0 expired 45s ago \(last renewed [^)]+\), and only the leader writes it \(see "the controller is running and leader elected"\)/;
/** This cluster's (east's) gateway chain, as its LoadBalancer address presents it. */
const eastChain = () => splitPem(testGatewayCertificate('east').chainPem);
const eastSerial = () => new X509Certificate(eastChain()[0]!).serialNumber;
/** East's own gateway certificate revoked, as `certs revoke --cluster east --cert leaked.crt` does. */
function ownGatewayRevoked(f: CheckFacts): void {
  f.localCluster = 'east';
  f.localGatewayChain = { ok: true, address: '10.0.0.9:4143', chainPem: eastChain() };
  f.crlPem = { ok: true, value: eastCrl([eastSerial()]) };
}
/** ca.crt during a rotation: the new anchor (here the "foreign" PKI's) and the old one. */
const anchorBundle = foreignTestPki().anchor.certPem + testPki().anchor.certPem;
const westCrl = (serials: string[]) => testPki().issuers.west.certPem + createWestCrl(serials);

/**
 * The trust anchor's CRL revoking cluster issuers, in a bundle as `certs revoke --issuer-of` writes
 * it (with the issuer certificates).
 */
function anchorCrl(revokedIssuers: KeyPairPem[]): string {
  const { anchor, issuers } = testPki();
  const crl = createCrl({
    issuerCertPem: anchor.certPem,
    issuerKeyPem: anchor.keyPem,
    revoked: revokedIssuers.map((i) => ({
      serial: new X509Certificate(i.certPem).serialNumber,
      revokedAt: new Date(),
      reason: 'keyCompromise' as const,
    })),
    crlNumber: 1n,
  });
  return issuers.east.certPem + issuers.west.certPem + crl;
}

/** An anchor, east's issuer and a west gateway certificate, minted as if the clock read `at`. */
function pkiMintedAt(at: Date) {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(at);
  try {
    const anchor = createTrustAnchor({ trustDomain: 'cluster.local', keyBits: 2048 });
    const issuer = (cluster: string) => createIssuer(anchor, { cluster, trustDomain: 'cluster.local' });
    const west = issueGatewayCertificate(issuer('west'), {
      trustDomain: 'cluster.local',
      cluster: 'west',
      now: at,
    });
    return {
      anchorPem: anchor.certPem,
      eastIssuerPem: issuer('east').certPem,
      westChain: splitPem(west.chainPem),
    };
  } finally {
    vi.useRealTimers();
  }
}

/**
 * An anchor rotation as `isthmus certs new-anchor` makes one: an old PKI and a new one minted an
 * hour later, so their anchors' notBefore tells them apart; `twin` an anchor with the same notBefore
 * as the old one, `between` one minted between the two.
 */
let rotationPkis: ReturnType<typeof mintRotation> | undefined;
function mintRotation() {
  const t = Date.now();
  const old = pkiMintedAt(new Date(t - 2 * HOUR));
  const next = pkiMintedAt(new Date(t - HOUR));
  const anchorAt = (ms: number) => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(ms);
    try {
      return createTrustAnchor({ trustDomain: 'cluster.local', keyBits: 2048 }).certPem;
    } finally {
      vi.useRealTimers();
    }
  };
  return { old, next, twin: anchorAt(t - 2 * HOUR), between: anchorAt(t - 1.5 * HOUR) };
}
const rotation = () => {
  rotationPkis ??= mintRotation();
  return rotationPkis;
};
// Ten RSA keys take seconds: minted once, before the cases, rather than timed as part of one.
beforeAll(() => void rotation());
/** This cluster's issuer and its west Link's gateway under the `issuer` and `gateway` PKIs, with ca.crt `anchors`. */
function midRotation(
  f: CheckFacts,
  anchors: string[],
  issuer: { eastIssuerPem: string },
  gateway: { westChain: string[] },
): void {
  f.anchorPem = { ok: true, value: anchors.join('') };
  f.issuerPem = { ok: true, value: issuer.eastIssuerPem };
  links(f)[0]!.gatewayChain = { ok: true, address: '10.0.0.7:4143', chainPem: gateway.westChain };
}

function facts(change: (f: CheckFacts) => void = () => {}): CheckFacts {
  const f = healthyFacts(pki);
  change(f);
  return f;
}

const links = (f: CheckFacts) => (f.links.ok ? f.links.value : []);
/** The ServicesMirrored condition the controller writes when Services cannot be mirrored. */
const servicesMirrored = (reason: string) => ({
  type: 'ServicesMirrored',
  status: 'False',
  reason,
  message: '1 of 1 services not mirrored: shop/cart (ApplyFailed); status.services says why',
});
/** The GatewayAlive condition the controller writes once the probe failed, with its error. */
const probeFailed = (message: string) => ({
  type: 'GatewayAlive',
  status: 'False',
  reason: 'ProbeFailed',
  message,
});
/** This cluster's gateway Deployment with `available` of `replicas`, and west's probe refused. */
function refusedWithLocalGateway(f: CheckFacts, replicas: number, available: number): void {
  if (f.deployments.ok) f.deployments.value[1] = { name: 'isthmus-gateway', replicas, available };
  links(f)[0]!.link = link('west', { conditions: [HEALTHY_CONDITIONS[0]!, probeFailed('ECONNREFUSED')] });
}
describe('checkLinksValid and the remote cluster identity', () => {
  it('fails a Link whose remote no longer says it is the target, quoting the controller', () => {
    const message =
      'the credentials in Secret isthmus-system/cluster-credentials-west reach … no longer says it is cluster "west" …';
    const f = facts((x) => {
      links(x)[0]!.link = link('west', {
        conditions: [{ type: 'Ready', status: 'False', reason: 'RemoteClusterUnconfirmed', message }],
      });
    });
    expect(checkLinksValid(f)).toMatchObject({ status: 'fail', hints: [`Link west: ${message}`] });
  });
});

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** A credentials token's lifetime, from and to offsets of `now`. */
const tokenLife = (now: Date, from: number, to: number) => ({
  notBefore: new Date(now.getTime() + from).toISOString(),
  expiresAt: new Date(now.getTime() + to).toISOString(),
});

describe('a healthy setup', () => {
  it('passes every check', () => {
    expect(runChecks(facts()).map((r) => [r.description, r.status, r.hints])).toEqual(
      CHECKS.map((c) => [c(facts()).description, 'ok', []]),
    );
  });
});

type Case = [string, (f: CheckFacts) => void, CheckResult['status'], RegExp | null];

describe.each<[string, (f: CheckFacts) => CheckResult, Case[]]>([
  [
    'CRDs',
    checkCrds,
    [
      ['both installed', () => {}, 'ok', null],
      [
        'Link CRD missing',
        (f) => {
          f.crds = { ok: true, value: { 'trafficsplits.split.smi-spec.io': true } };
        },
        'fail',
        /CRD links\.multicluster\.isthmus\.dev is missing/,
      ],
      [
        'cannot read',
        (f) => {
          f.crds = { ok: false, error: '403 Forbidden' };
        },
        'fail',
        /cannot read CustomResourceDefinitions: 403/,
      ],
    ],
  ],
  [
    'Links valid',
    checkLinksValid,
    [
      [
        'spec invalid (caught without the controller)',
        (f) => {
          links(f)[0]!.link.spec.targetClusterName = 'West_1';
        },
        'fail',
        /invalid spec: targetClusterName "West_1" is not a DNS label/,
      ],
      [
        "a Link to this cluster itself (its name from the install's namespace label)",
        (f) => {
          f.localCluster = 'west';
        },
        'fail',
        /Link west: invalid spec: targetClusterName west is this cluster/,
      ],
      [
        'a Link named otherwise than its cluster is named both ways, so kubectl finds it',
        (f) => {
          links(f)[0]!.link.metadata!.name = 'bad3';
          links(f)[0]!.link.spec.gatewayAddress = '10.0.0.7:4143';
        },
        'fail',
        /^Link bad3 \(cluster west\): invalid spec: gatewayAddress/,
      ],
      [
        'controller reports LinkInvalid',
        (f) => {
          links(f)[0]!.link = link('west', {
            conditions: [{ type: 'Ready', status: 'False', reason: 'LinkInvalid', message: 'bad selector' }],
          });
        },
        'fail',
        /the controller rejects it: bad selector/,
      ],
      [
        "the controller's Lease expired: its LinkInvalid is the last leader's verdict, a warning that says so",
        (f) => {
          leaseExpired(f);
          links(f)[0]!.link = link('west', {
            conditions: [{ type: 'Ready', status: 'False', reason: 'LinkInvalid', message: 'bad selector' }],
          });
        },
        'warn',
        new RegExp(
          `^Link west: the controller rejects it: bad selector; this verdict \\(its Ready condition\\) ${STALE.source}$`,
        ),
      ],
      [
        "the controller's Lease expired: a stale RemoteClusterMismatch is a warning too",
        (f) => {
          leaseExpired(f);
          links(f)[0]!.link = link('west', {
            conditions: [
              {
                type: 'Ready',
                status: 'False',
                reason: 'RemoteClusterMismatch',
                message: 'says it is cluster "north"',
              },
            ],
          });
        },
        'warn',
        /^Link west: says it is cluster "north"\. If the Link names the right cluster[^\n]*; this verdict \(its Ready condition\) is stale and cannot be trusted/,
      ],
      [
        "the controller's Lease expired: an invalid spec still fails (isthmus check reads it itself)",
        (f) => {
          leaseExpired(f);
          links(f)[0]!.link.spec.targetClusterName = 'West_1';
        },
        'fail',
        /invalid spec: targetClusterName "West_1" is not a DNS label/,
      ],
      [
        'a selector wider than what the remote gateway admits',
        (f) => {
          links(f)[0]!.link.spec.selector = { matchLabels: { app: 'podinfo' } };
        },
        'warn',
        /Link west: its selector does not require mirror\.linkerd\.io\/exported=true or mirror\.linkerd\.io\/federated=member: .* refused \(403\)/,
      ],
      [
        'a federated-service selector wider than what the remote gateway admits',
        (f) => {
          links(f)[0]!.link.spec.federatedServiceSelector = { matchLabels: { team: 'cart' } };
        },
        'warn',
        /Link west: its federatedServiceSelector does not require mirror\.linkerd\.io\/exported=true or mirror\.linkerd\.io\/federated=member: .* refused \(403\)/,
      ],
      [
        'a narrowed federated-service selector is fine',
        (f) => {
          links(f)[0]!.link.spec.federatedServiceSelector = {
            matchLabels: { 'mirror.linkerd.io/federated': 'member', team: 'cart' },
          };
        },
        'ok',
        null,
      ],
      [
        'any federated-service selector is fine without a gateway: the mirrors list the remote pods',
        (f) => {
          const spec = links(f)[0]!.link.spec;
          for (const key of ['gatewayAddress', 'gatewayPort', 'gatewayIdentity', 'probeSpec'] as const)
            delete spec[key];
          spec.selector = { matchLabels: {} };
          spec.federatedServiceSelector = { matchLabels: { team: 'cart' } };
        },
        'ok',
        null,
      ],
      [
        'a narrowed selector is fine',
        (f) => {
          links(f)[0]!.link.spec.selector = {
            matchLabels: { 'mirror.linkerd.io/exported': 'true' },
            matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['internal'] }],
          };
        },
        'ok',
        null,
      ],
      [
        'no status yet',
        (f) => {
          delete links(f)[0]!.link.status;
        },
        'warn',
        /no status yet/,
      ],
      [
        'credentials unavailable is not an invalid Link',
        (f) => {
          links(f)[0]!.link = link('west', {
            conditions: [{ type: 'Ready', status: 'False', reason: 'CredentialsUnavailable', message: 'x' }],
          });
        },
        'ok',
        null,
      ],
      [
        'enableNamespaceCreation without the grant',
        (f) => {
          links(f)[0]!.link.spec.enableNamespaceCreation = true;
        },
        'fail',
        /Link west: enableNamespaceCreation is set, but isthmus-controller may not create namespaces: re-install with `isthmus install --enable-namespace-creation`/,
      ],
      [
        'enableNamespaceCreation with the grant',
        (f) => {
          links(f)[0]!.link.spec.enableNamespaceCreation = true;
          f.controllerMayCreateNamespaces = { ok: true, value: true };
        },
        'ok',
        null,
      ],
    ],
  ],
  [
    'credentials',
    checkCredentials,
    [
      [
        '401',
        (f) => {
          links(f)[0]!.remote = {
            ok: false,
            kind: 'unauthorized',
            message: 'GET /version: 401 Unauthorized',
          };
        },
        'fail',
        /rejects the token in isthmus-system\/cluster-credentials-west \(401.*isthmus link --context <west> --cluster-name west/,
      ],
      [
        '403',
        (f) => {
          links(f)[0]!.remote = { ok: false, kind: 'forbidden', message: 'list services: 403' };
        },
        'fail',
        /lacks permissions \(403: list services: 403\).*isthmus-remote-access RBAC/,
      ],
      [
        '403 for an account of its own: isthmus allow grants it again',
        (f) => {
          const link = links(f)[0]!;
          link.link.metadata = {
            ...link.link.metadata,
            annotations: { 'isthmus.dev/remote-service-account': 'east-reader' },
          };
          link.remote = { ok: false, kind: 'forbidden', message: 'list endpointslices: 403' };
        },
        'fail',
        /lacks permissions \(403: list endpointslices: 403\); re-apply its binding with `isthmus allow --context <west> --service-account-name east-reader \| kubectl --context <west> apply -f -`/,
      ],
      [
        'unreachable',
        (f) => {
          links(f)[0]!.remote = { ok: false, kind: 'unreachable', message: 'ECONNREFUSED' };
        },
        'fail',
        /remote API server is unreachable \(ECONNREFUSED\)/,
      ],
      [
        "the remote API server's certificate is not signed by the Secret's CA: reachable, but untrusted",
        (f) => {
          links(f)[0]!.remote = {
            ok: false,
            kind: 'untrusted',
            message: 'GET /version: UNABLE_TO_VERIFY_LEAF_SIGNATURE: unable to verify the first certificate',
          };
        },
        'fail',
        /^Link west: the remote API server's certificate is not trusted by the CA in isthmus-system\/cluster-credentials-west \(GET \/version: UNABLE_TO_VERIFY_LEAF_SIGNATURE.*\); .*isthmus link --context <west> --cluster-name west/,
      ],
      [
        'the remote API server answers 5xx: reachable, the credentials are not in question',
        (f) => {
          links(f)[0]!.remote = {
            ok: false,
            kind: 'server-error',
            message: 'GET /version: 503 ServiceUnavailable',
          };
        },
        'fail',
        /^Link west: the remote API server answers with a server error \(GET \/version: 503 ServiceUnavailable\); it is reachable and the credentials are not in question: check its health/,
      ],
      [
        'Secret missing',
        (f) => {
          links(f)[0]!.remote = { ok: false, kind: 'secret-missing', message: 'not found' };
        },
        'fail',
        /credentials Secret isthmus-system\/cluster-credentials-west does not exist/,
      ],
      [
        'Secret missing, the Link linked with a per-peer account: the account the Link records is kept',
        (f) => {
          links(f)[0]!.link.metadata!.annotations = { 'isthmus.dev/remote-service-account': 'east-reader' };
          links(f)[0]!.remote = { ok: false, kind: 'secret-missing', message: 'not found' };
        },
        'fail',
        /^Link west: credentials Secret isthmus-system\/cluster-credentials-west does not exist; re-create it with `isthmus link --context <west> --cluster-name west --service-account-name east-reader <the Link's other flags> \| kubectl apply -f -`$/,
      ],
      [
        'Secret missing, the Link linked with the shared account: no account to pass',
        (f) => {
          links(f)[0]!.link.metadata!.annotations = {
            'isthmus.dev/remote-service-account': 'isthmus-remote-access',
          };
          links(f)[0]!.remote = { ok: false, kind: 'secret-missing', message: 'not found' };
        },
        'fail',
        /^Link west: credentials Secret isthmus-system\/cluster-credentials-west does not exist; re-create it with `isthmus link --context <west> --cluster-name west <the Link's other flags> \| kubectl apply -f -`$/,
      ],
      [
        'Secret missing, a Link that records no account (an older isthmus link): told to pass the same one',
        (f) => {
          links(f)[0]!.remote = { ok: false, kind: 'secret-missing', message: 'not found' };
        },
        'fail',
        /^Link west: credentials Secret isthmus-system\/cluster-credentials-west does not exist; re-create it with `isthmus link --context <west> --cluster-name west <the Link's other flags> \| kubectl apply -f -`, with the same --service-account-name as before if it was linked with an account made by `isthmus allow` \(without it, the Link moves to the shared isthmus-remote-access account\)$/,
      ],
      [
        'a 90-day token with 5 days left: a warning that says how to renew it',
        (f) => {
          links(f)[0]!.token = tokenLife(f.now, -85 * DAY, 5 * DAY);
        },
        'warn',
        /^Link west: the token in isthmus-system\/cluster-credentials-west expires in 5 days \(.*\); re-run `isthmus link --context <west> --cluster-name west --token-duration <duration> <the Link's other flags> \| kubectl apply -f -`/,
      ],
      [
        'a 90-day token with 60 days left: fine',
        (f) => {
          links(f)[0]!.token = tokenLife(f.now, -30 * DAY, 60 * DAY);
        },
        'ok',
        null,
      ],
      [
        'a 1-day token warns in its last tenth only: 3 hours left is fine',
        (f) => {
          links(f)[0]!.token = tokenLife(f.now, -21 * HOUR, 3 * HOUR);
        },
        'ok',
        null,
      ],
      [
        'a 1-day token with 2 hours left: a warning',
        (f) => {
          links(f)[0]!.token = tokenLife(f.now, -22 * HOUR, 2 * HOUR);
        },
        'warn',
        /the token in isthmus-system\/cluster-credentials-west expires in 2 hours/,
      ],
      [
        "a per-peer account's token: the renewal keeps the account, not the shared one",
        (f) => {
          links(f)[0]!.token = tokenLife(f.now, -85 * DAY, 5 * DAY);
          links(f)[0]!.tokenAccount = 'east-reader';
        },
        'warn',
        /re-run `isthmus link --context <west> --cluster-name west --service-account-name east-reader --token-duration <duration> <the Link's other flags>/,
      ],
      [
        'a revoked per-peer Secret token: re-created for the same account, and still one that never expires',
        (f) => {
          links(f)[0]!.tokenAccount = 'east-reader';
          links(f)[0]!.remote = {
            ok: false,
            kind: 'unauthorized',
            message: 'GET /version: 401 Unauthorized',
          };
        },
        'fail',
        /re-create it with `isthmus link --context <west> --cluster-name west --service-account-name east-reader <the Link's other flags> \| kubectl apply -f -`/,
      ],
      [
        "a token the remote API server issued a moment ago, this machine's clock a minute behind: judged by the API server's clock, fine",
        (f) => {
          f.apiNow = new Date(f.now.getTime() + 60_000);
          links(f)[0]!.token = tokenLife(f.apiNow, 0, 365 * DAY);
        },
        'ok',
        null,
      ],
      [
        "a token whose nbf is a minute past the API server's clock (the remote's runs ahead): the remote judges it by its own clock, fine",
        (f) => {
          f.apiNow = f.now;
          links(f)[0]!.token = tokenLife(f.now, 60_000, 365 * DAY);
        },
        'ok',
        null,
      ],
      [
        'a token not valid for hours yet: no clock is that far off, a warning',
        (f) => {
          f.apiNow = f.now;
          links(f)[0]!.token = tokenLife(f.now, 2 * HOUR, 365 * DAY);
        },
        'warn',
        /^Link west: the token in isthmus-system\/cluster-credentials-west not valid before /,
      ],
      [
        'an expired token the remote refuses: the failure names the expiry, not a revocation',
        (f) => {
          links(f)[0]!.token = tokenLife(f.now, -90 * DAY, -HOUR);
          links(f)[0]!.remote = {
            ok: false,
            kind: 'unauthorized',
            message: 'GET /version: 401 Unauthorized',
          };
        },
        'fail',
        /^Link west: the token in isthmus-system\/cluster-credentials-west expired at .*; re-run `isthmus link .*--token-duration/,
      ],
    ],
  ],
  [
    'trust anchor',
    checkTrustAnchor,
    [
      [
        'a Link without a gateway: no handshake, nothing to compare, no warning',
        (f) => {
          const { gatewayChain: _none, ...rest } = links(f)[0]!;
          links(f)[0] = rest;
        },
        'ok',
        null,
      ],
      [
        'gateway from another PKI',
        (f) => {
          links(f)[0]!.gatewayChain = { ok: true, address: '10.0.0.7:4143', chainPem: foreignChain };
        },
        'fail',
        /gateway 10\.0\.0\.7:4143 does not chain to the local trust anchor \(.*not signed by any given trust anchor/,
      ],
      [
        'local anchor replaced',
        (f) => {
          f.anchorPem = { ok: true, value: foreignTestPki().anchor.certPem };
        },
        'fail',
        /does not chain to the local trust anchor/,
      ],
      [
        'an anchor rotation: the bundle accepts a gateway under the new anchor',
        (f) => {
          f.anchorPem = { ok: true, value: anchorBundle };
          links(f)[0]!.gatewayChain = { ok: true, address: '10.0.0.7:4143', chainPem: foreignChain };
        },
        'ok',
        null,
      ],
      [
        'an anchor rotation whose old anchor nothing uses any more: time to finish it',
        (f) => {
          const { old, next } = rotation();
          midRotation(f, [next.anchorPem, old.anchorPem], next, next);
        },
        'warn',
        /^anchor #2 of the 2 in ca\.crt, the old one \(notBefore [^)]+\), signs neither this cluster's issuer nor any linked gateway: .*finish the rotation: isthmus certs new-anchor --out DIR --finish, then in every cluster isthmus upgrade --trust-anchor DIR\/ca\.crt \| kubectl apply -f - and restart isthmus-gateway/,
      ],
      [
        'an anchor rotation after step 1 (bundle trusted, every issuer still under the old anchor): the unused new anchor is the next step, never a hint to finish',
        (f) => {
          const { old, next } = rotation();
          midRotation(f, [next.anchorPem, old.anchorPem], old, old);
        },
        'warn',
        /^(?![\s\S]*--finish)anchor #1 of the 2 in ca\.crt, the new one \(notBefore [^)]+\), signs neither this cluster's issuer nor any linked gateway yet: the rotation is under way.*\(step 2\) with the issuer isthmus certs new-anchor --out DIR wrote: isthmus upgrade --trust-anchor DIR\/ca-bundle\.crt --issuer-cert DIR\/<cluster>\/issuer\.crt --issuer-key DIR\/<cluster>\/issuer\.key \| kubectl apply -f -, then restart isthmus-identity and isthmus-gateway\. Keep the old anchor in ca\.crt: it still signs what is in use$/,
      ],
      [
        'an anchor rotation after step 1, the cluster named: the step names its issuer files',
        (f) => {
          const { old, next } = rotation();
          midRotation(f, [next.anchorPem, old.anchorPem], old, old);
          f.localCluster = 'east';
        },
        'warn',
        /--issuer-cert DIR\/east\/issuer\.crt --issuer-key DIR\/east\/issuer\.key/,
      ],
      [
        'a bundle listing the old anchor first: told apart by notBefore, not by position',
        (f) => {
          const { old, next } = rotation();
          midRotation(f, [old.anchorPem, next.anchorPem], old, old);
        },
        'warn',
        /^(?![\s\S]*--finish)anchor #2 of the 2 in ca\.crt, the new one /,
      ],
      [
        'a bundle listing the old anchor first, nothing under it any more: finish',
        (f) => {
          const { old, next } = rotation();
          midRotation(f, [old.anchorPem, next.anchorPem], next, next);
        },
        'warn',
        /^anchor #1 of the 2 in ca\.crt, the old one .*new-anchor --out DIR --finish/,
      ],
      [
        'the finishing hint also rebuilds the CRL when isthmus-crl exists',
        (f) => {
          const { old, next } = rotation();
          midRotation(f, [next.anchorPem, old.anchorPem], next, next);
          f.crlPem = { ok: true, value: westCrl(['01']) };
        },
        'warn',
        /--finish, apply the rebuilt DIR\/crl\.pem as the isthmus-crl ConfigMap in every cluster, then in every cluster isthmus upgrade --trust-anchor/,
      ],
      [
        'an unused anchor with the same notBefore as the one in use: says it cannot tell, no hint to finish',
        (f) => {
          const { old, twin } = rotation();
          midRotation(f, [twin, old.anchorPem], old, old);
        },
        'warn',
        /^(?![\s\S]*--finish)anchor #1 of the 2 in ca\.crt \(notBefore [^)]+, SHA-256 fingerprint [0-9A-F:]+\) signs neither this cluster's issuer nor any linked gateway, and its notBefore does not tell whether it is the new anchor or the old one: compare its fingerprint with .*DIR\/ca\.crt.*DIR\/previous\/ca\.crt/,
      ],
      [
        'an unused anchor newer than one in use and older than another: cannot tell either',
        (f) => {
          const { old, next, between } = rotation();
          midRotation(f, [next.anchorPem, between, old.anchorPem], old, next);
        },
        'warn',
        /^(?![\s\S]*--finish)anchor #2 of the 3 in ca\.crt \(notBefore .* does not tell whether it is the new anchor or the old one/,
      ],
      [
        'identity differs from the Link',
        (f) => {
          links(f)[0]!.link.spec.gatewayIdentity = 'spiffe://cluster.local/cluster/north/gateway';
        },
        'fail',
        /presents identity spiffe:\/\/cluster\.local\/cluster\/west\/gateway, the Link expects .*north/,
      ],
      [
        "a Link named after another cluster than its gateway's identity",
        (f) => {
          links(f)[0]!.link.spec.targetClusterName = 'w2';
        },
        'fail',
        /holds cluster west's identity, but this Link's mirrors name cluster w2: tunnels and probes expect w2's gateway identity/,
      ],
      [
        'gateway unreachable: cannot compare',
        (f) => {
          links(f)[0]!.gatewayChain = { ok: false, address: '10.0.0.7:4143', error: 'ECONNREFUSED' };
        },
        'warn',
        /cannot compare, no TLS handshake with gateway 10\.0\.0\.7:4143: ECONNREFUSED/,
      ],
      [
        'anchor unreadable',
        (f) => {
          f.anchorPem = { ok: false, error: 'ConfigMap not found' };
        },
        'fail',
        /cannot read ConfigMap isthmus-system\/isthmus-trust-anchor: ConfigMap not found/,
      ],
    ],
  ],
  [
    'revocation',
    checkRevocation,
    [
      [
        "CRL of west's issuer revoking its gateway: the issuer is good, so a new certificate is all it needs, and it gets one by itself",
        (f) => {
          f.crlPem = { ok: true, value: westCrl([new X509Certificate(pki.westChain[0]!).serialNumber]) };
        },
        'fail',
        /^(?![\s\S]*issuer that is not revoked)Link west: gateway 10\.0\.0\.7:4143 is revoked here \(certificate serial [0-9A-F]+ is revoked by its issuer's CRL \(keyCompromise[^)]*\)\); its tunnels are refused until it has a new certificate, which the west gateway takes from its identity service by itself once it loads the same CRL \(its isthmus-crl ConfigMap\)$/,
      ],
      [
        'CRL revoking someone else',
        (f) => {
          f.crlPem = { ok: true, value: westCrl(['01']) };
        },
        'ok',
        null,
      ],
      [
        'bundle the gateways refuse',
        (f) => {
          f.crlPem = { ok: true, value: createWestCrl(['01']) }; // without west's issuer certificate
        },
        'fail',
        /the gateways refuse the CRL bundle in isthmus-crl \(CRL #1 of the bundle is signed by neither/,
      ],
      [
        'ConfigMap without crl.pem',
        (f) => {
          f.crlPem = { ok: false, error: 'no crl.pem in the ConfigMap' };
        },
        'fail',
        /cannot read ConfigMap isthmus-system\/isthmus-crl: no crl.pem/,
      ],
      [
        "the anchor's CRL revoking this cluster's issuer: renew it, and no restart follows (identity reloads it, the gateways renew by themselves)",
        (f) => {
          f.crlPem = { ok: true, value: anchorCrl([testPki().issuers.east]) };
          f.localCluster = 'east';
        },
        'fail',
        /^this cluster's issuer "CN=identity\.east\.cluster\.local" is revoked \(certificate serial [0-9A-F]+ is revoked by the trust anchor's CRL \(keyCompromise, since [^)]+\)\): .*renew it: isthmus certs --out DIR --clusters east --reuse-anchor --force, then isthmus upgrade --issuer-cert DIR\/east\/issuer\.crt --issuer-key DIR\/east\/issuer\.key \| kubectl apply -f -; isthmus-identity reloads the new issuer and this cluster's gateways take certificates of it by themselves, no restart needed$/,
      ],
      [
        "this cluster's issuer revoked, the cluster's name unknown: the hint says where it goes",
        (f) => {
          f.crlPem = { ok: true, value: anchorCrl([testPki().issuers.east]) };
        },
        'fail',
        /--clusters <cluster> --reuse-anchor --force, then isthmus upgrade --issuer-cert DIR\/<cluster>\/issuer\.crt/,
      ],
      [
        "the anchor's CRL revoking west's issuer: the Link is named, this cluster's issuer is not",
        (f) => {
          f.crlPem = { ok: true, value: anchorCrl([testPki().issuers.west]) };
        },
        'fail',
        /^Link west: gateway 10\.0\.0\.7:4143 is revoked here \(issuer "CN=identity\.west\.cluster\.local" \(serial [0-9A-F]+\) is revoked by the trust anchor's CRL \(keyCompromise[^\n]*\); its tunnels are refused until it has a new certificate from an issuer that is not revoked: west's issuer must be renewed there \(isthmus certs --reuse-anchor --force, then isthmus upgrade\)$/,
      ],
      [
        "west's issuer renewed with the same key, its old certificate revoked: a new leaf would be refused too, so the issuer is named",
        (f) => {
          const { anchor, issuers } = testPki();
          // cert-manager's rotationPolicy: Never: the same Name and key under a new serial.
          const renewed = lookAlike(issuers.west, { ...VALID, signer: anchor });
          links(f)[0]!.gatewayChain = {
            ok: true,
            address: '10.0.0.7:4143',
            chainPem: [pki.westChain[0]!, renewed],
          };
          f.crlPem = { ok: true, value: anchorCrl([issuers.west]) };
        },
        'fail',
        /^Link west: gateway 10\.0\.0\.7:4143 is revoked here \(issuer "CN=identity\.west\.cluster\.local" \(serial [0-9A-F]+\) is revoked by the trust anchor's CRL[^\n]*; its tunnels are refused until it has a new certificate from an issuer that is not revoked: west's issuer must be renewed there/,
      ],
      [
        "this cluster's issuer renewed with the same key, its old certificate revoked: the issuer is named, not the gateway's certificate",
        (f) => {
          const { anchor, issuers } = testPki();
          const renewed = lookAlike(issuers.east, { ...VALID, signer: anchor });
          f.localCluster = 'east';
          f.issuerPem = { ok: true, value: renewed };
          f.localGatewayChain = { ok: true, address: '10.0.0.9:4143', chainPem: [eastChain()[0]!, renewed] };
          f.crlPem = { ok: true, value: anchorCrl([issuers.east]) };
        },
        'fail',
        /^(?![\s\S]*this cluster's gateway certificate)this cluster's issuer "CN=identity\.east\.cluster\.local" is revoked \(issuer "CN=identity\.east\.cluster\.local" \(serial [0-9A-F]+\) is revoked by the trust anchor's CRL[^\n]*renew it: isthmus certs --out DIR --clusters east --reuse-anchor --force/,
      ],
      [
        "this cluster's own gateway certificate revoked: named with its serial; the gateway replaces it by itself, no restart",
        ownGatewayRevoked,
        'fail',
        /^(?![\s\S]*restart)this cluster's gateway certificate \(serial [0-9A-F]+, presented at 10\.0\.0\.9:4143\) is revoked \(certificate serial [0-9A-F]+ is revoked by its issuer's CRL \(keyCompromise, since [^)]+\)\): every gateway that loads this CRL refuses this cluster's gateway; the gateway replaces it by itself once it has loaded this CRL and isthmus-identity can issue a new one: its log line starting "certificate refused by the CRL" says whether it did$/,
      ],
      [
        "this cluster's own gateway certificate revoked while identity runs nothing: identity is what blocks it, and no restart is advised",
        (f) => {
          ownGatewayRevoked(f);
          if (f.deployments.ok)
            f.deployments.value[0] = { name: 'isthmus-identity', replicas: 1, available: 0 };
        },
        'fail',
        /^(?![\s\S]*restart deployment)this cluster's gateway certificate \(serial [0-9A-F]+, [^\n]*: every gateway that loads this CRL refuses this cluster's gateway; the gateway replaces it by itself, but only with a certificate from isthmus-identity, which has no available replica \(see "the identity, gateway and controller Deployments are available"\): bring identity back first, and do not restart the gateway meanwhile \(it would start with no certificate at all\)$/,
      ],
      [
        "this cluster's own gateway certificate revoked, the gateway run with --cert-file: new files and SIGHUP (or a restart)",
        (f) => {
          ownGatewayRevoked(f);
          if (f.deployments.ok)
            f.deployments.value[1] = {
              name: 'isthmus-gateway',
              replicas: 1,
              available: 1,
              args: [
                'isthmus',
                'gateway',
                '--in-cluster',
                '--cert-file',
                '/certs/tls.crt',
                '--key-file=/certs/tls.key',
              ],
            };
        },
        'fail',
        /^this cluster's gateway certificate \(serial [0-9A-F]+, [^\n]*: every gateway that loads this CRL refuses this cluster's gateway; it runs with --cert-file, which it does not renew: replace the files of --cert-file and --key-file with a new certificate and send the gateway SIGHUP \(or restart it: kubectl -n isthmus-system rollout restart deployment\/isthmus-gateway\)$/,
      ],
      [
        "this cluster's gateway presents a leaf of a revoked issuer it no longer holds: its retries take one of the issuer in force, no restart",
        (f) => {
          f.localGatewayChain = { ok: true, address: '10.0.0.9:4143', chainPem: eastChain() };
          f.issuerPem = { ok: true, value: foreignTestPki().issuers.east.certPem }; // renewed since
          f.crlPem = { ok: true, value: anchorCrl([testPki().issuers.east]) };
        },
        'fail',
        /^(?![\s\S]*restart)this cluster's gateway certificate \(serial [0-9A-F]+, presented at 10\.0\.0\.9:4143\) is revoked \(issuer "CN=identity\.east\.cluster\.local" \(serial [0-9A-F]+\) is revoked by the trust anchor's CRL[^\n]*; the gateway replaces it by itself once it has loaded this CRL and isthmus-identity can issue a new one: its log line starting "certificate refused by the CRL" says whether it did$/,
      ],
      [
        "this cluster's issuer revoked, its gateway's chain too: the issuer is named, once",
        (f) => {
          f.localGatewayChain = { ok: true, address: '10.0.0.9:4143', chainPem: eastChain() };
          f.crlPem = { ok: true, value: anchorCrl([testPki().issuers.east]) };
        },
        'fail',
        /^this cluster's issuer "CN=identity\.east\.cluster\.local" is revoked [^\n]*$/,
      ],
      [
        "the CRL revoking another certificate than this cluster's gateway's",
        (f) => {
          f.localGatewayChain = { ok: true, address: '10.0.0.9:4143', chainPem: eastChain() };
          f.crlPem = { ok: true, value: eastCrl(['01']) };
        },
        'ok',
        null,
      ],
      [
        "a replica's revoked certificate, read from its /certificate where the handshake reached none: the replica is named",
        (f) => {
          f.localGatewayChain = { ok: false, address: '10.0.0.9:4143', error: 'ETIMEDOUT' };
          f.gatewayPodChains = {
            ok: true,
            value: [{ pod: 'isthmus-gateway-7d9f-abcde', ok: true, chainPem: eastChain() }],
          };
          f.crlPem = { ok: true, value: eastCrl([eastSerial()]) };
        },
        'fail',
        /^this cluster's gateway certificate \(serial [0-9A-F]+, presented by gateway pod isthmus-gateway-7d9f-abcde\) is revoked /,
      ],
      [
        "this cluster's gateway not reachable from here: nothing to judge, nothing said",
        (f) => {
          f.localGatewayChain = { ok: false, address: '10.0.0.9:4143', error: 'ETIMEDOUT' };
          f.crlPem = { ok: true, value: eastCrl([eastSerial()]) };
        },
        'ok',
        null,
      ],
      [
        "the anchor's CRL revoking no issuer",
        (f) => {
          f.crlPem = { ok: true, value: anchorCrl([]) };
        },
        'ok',
        null,
      ],
    ],
  ],
  [
    'deployments',
    checkDeployments,
    [
      [
        'gateway missing',
        (f) => {
          if (f.deployments.ok)
            f.deployments.value = f.deployments.value.filter((d) => d.name !== 'isthmus-gateway');
        },
        'fail',
        /^Deployment isthmus-gateway does not exist: run `isthmus install/,
      ],
      [
        'controller has nothing available',
        (f) => {
          if (f.deployments.ok)
            f.deployments.value[2] = { name: 'isthmus-controller', replicas: 2, available: 0 };
        },
        'fail',
        /isthmus-controller has no available replica \(0\/2\); see `kubectl -n isthmus-system describe deployment\/isthmus-controller`/,
      ],
      [
        'identity scaled to 0: said so, with how to scale it back, not pods to look at',
        (f) => {
          if (f.deployments.ok)
            f.deployments.value[0] = { name: 'isthmus-identity', replicas: 0, available: 0 };
        },
        'fail',
        /^Deployment isthmus-identity is scaled to 0 \(spec\.replicas 0\), so nothing runs it: scale it back with `kubectl -n isthmus-system scale deployment\/isthmus-identity --replicas=1`, or re-apply the install's own replica count with `isthmus upgrade \| kubectl apply -f -`$/,
      ],
      [
        'one of two gateways available',
        (f) => {
          if (f.deployments.ok)
            f.deployments.value[1] = { name: 'isthmus-gateway', replicas: 2, available: 1 };
        },
        'warn',
        /isthmus-gateway has 1\/2 replicas available/,
      ],
      [
        'cannot read',
        (f) => {
          f.deployments = { ok: false, error: '403 Forbidden' };
        },
        'fail',
        /cannot read Deployments in isthmus-system: 403/,
      ],
    ],
  ],
  [
    'permissions',
    checkPermissions,
    [
      [
        'a status subresource lost',
        (f) => {
          const denied = (verb: string) => ({
            serviceAccount: 'isthmus-controller',
            verb,
            group: 'multicluster.isthmus.dev',
            resource: 'links',
            subresource: 'status',
          });
          f.deniedPermissions = {
            ok: true,
            value: [
              denied('update'),
              denied('patch'),
              {
                serviceAccount: 'isthmus-gateway',
                verb: 'watch',
                group: '',
                resource: 'secrets',
                namespace: 'isthmus-system',
              },
            ],
          };
        },
        'fail',
        /isthmus-controller may not update links\/status \(multicluster\.isthmus\.dev\) cluster-wide, patch links\/status \(multicluster\.isthmus\.dev\) cluster-wide: .*re-apply the RBAC of `isthmus install`\nisthmus-gateway may not watch secrets in isthmus-system/,
      ],
      [
        'cannot ask',
        (f) => {
          f.deniedPermissions = { ok: false, error: '403 Forbidden: cannot create subjectaccessreviews' };
        },
        'fail',
        /cannot read permissions \(SubjectAccessReview\): 403/,
      ],
    ],
  ],
  [
    'controller',
    checkController,
    [
      [
        'no Lease',
        (f) => {
          f.lease = { ok: true, value: undefined };
        },
        'fail',
        /no Lease isthmus-system\/isthmus-mirror/,
      ],
      [
        'no holder',
        (f) => {
          f.lease = { ok: true, value: { leaseDurationSeconds: 15 } };
        },
        'fail',
        /has no holder/,
      ],
      [
        'expired',
        (f) => {
          const renewTime = new Date(f.now.getTime() - 60_000).toISOString();
          f.lease = { ok: true, value: { holder: 'c-0', renewTime, leaseDurationSeconds: 15 } };
        },
        'fail',
        /held by c-0 expired 45s ago/,
      ],
      [
        'renewed 14 s ago with a 15 s lease',
        (f) => {
          const renewTime = new Date(f.now.getTime() - 14_000).toISOString();
          f.lease = { ok: true, value: { holder: 'c-0', renewTime, leaseDurationSeconds: 15 } };
        },
        'ok',
        null,
      ],
      [
        "judged by the API server's clock: this machine's, a minute ahead, does not expire a fresh Lease",
        (f) => {
          f.apiNow = new Date(f.now.getTime() - 60_000);
          const renewTime = new Date(f.apiNow.getTime() - 2_000).toISOString();
          f.lease = { ok: true, value: { holder: 'c-0', renewTime, leaseDurationSeconds: 15 } };
        },
        'ok',
        null,
      ],
      [
        "held by a run whose pod was replaced (kill -KILL): a warning, with when it runs out by the API server's clock",
        (f) => {
          f.apiNow = new Date(f.now.getTime() - 60_000);
          const renewTime = new Date(f.apiNow.getTime() - 2_000).toISOString();
          const holder = 'isthmus-controller-7d9f8c6b5-x2k4q_k3j2h1';
          f.lease = { ok: true, value: { holder, renewTime, leaseDurationSeconds: 15 } };
          f.controllerPods = {
            ok: true,
            value: [pod('isthmus-controller-7d9f8c6b5-m8p3z', podStatus.running(true))],
          };
        },
        'warn',
        /^Lease isthmus-system\/isthmus-mirror is held by isthmus-controller-7d9f8c6b5-x2k4q_k3j2h1, whose pod isthmus-controller-7d9f8c6b5-x2k4q is gone: no other controller can lead until the Lease runs out at \S+Z by the API server's clock \(in 13s\); see `kubectl -n isthmus-system get pods -l app.kubernetes.io\/name=isthmus-controller`$/,
      ],
      [
        'held by a run whose pod cannot be listed: nothing said of it',
        (f) => {
          const renewTime = new Date(f.now.getTime() - 2_000).toISOString();
          const holder = 'isthmus-controller-7d9f8c6b5-x2k4q_k3j2h1';
          f.lease = { ok: true, value: { holder, renewTime, leaseDurationSeconds: 15 } };
          f.controllerPods = { ok: false, error: '403 Forbidden' };
        },
        'ok',
        null,
      ],
    ],
  ],
  [
    'gateways alive',
    checkGatewaysAlive,
    [
      [
        'probe failed',
        (f) => {
          links(f)[0]!.link = link('west', {
            conditions: [
              HEALTHY_CONDITIONS[0]!,
              { type: 'GatewayAlive', status: 'False', reason: 'ProbeFailed', message: 'ECONNREFUSED' },
            ],
          });
        },
        'fail',
        /gateway 10\.0\.0\.7:4143 is not alive \(ECONNREFUSED\)/,
      ],
      [
        "probe failed: the probe's own mention of the address is not repeated",
        (f) => {
          links(f)[0]!.link = link('west', {
            conditions: [
              HEALTHY_CONDITIONS[0]!,
              {
                type: 'GatewayAlive',
                status: 'False',
                reason: 'ProbeFailed',
                message: 'gateway 10.0.0.7:4143 unreachable: connect ECONNREFUSED',
              },
            ],
          });
        },
        'fail',
        /^Link west: gateway 10\.0\.0\.7:4143 is not alive \(unreachable: connect ECONNREFUSED\); check/,
      ],
      [
        'probe refused by the remote gateway: the hint says how to get admitted there, not the network',
        (f) => {
          links(f)[0]!.link = link('west', {
            conditions: [
              HEALTHY_CONDITIONS[0]!,
              {
                type: 'GatewayAlive',
                status: 'False',
                reason: 'ProbeFailed',
                message:
                  'gateway 10.0.0.7:4143 refused this cluster\'s gateway: cluster "east" is not linked and not in --allow-cluster',
              },
            ],
          });
        },
        'fail',
        /is not alive \(refused this cluster's gateway: cluster "east" is not linked and not in --allow-cluster\); the west gateway turns this cluster's away: link west to this cluster there \(isthmus link, run against west\), or add this cluster to its --allow-cluster \(isthmus upgrade --allow-cluster\)$/,
      ],
      [
        'probe refused at the TLS handshake (OpenSSL, no reason given): the hint names the anchor, clocks and revocation there',
        (f) => {
          links(f)[0]!.link = link('west', {
            conditions: [
              HEALTHY_CONDITIONS[0]!,
              {
                type: 'GatewayAlive',
                status: 'False',
                reason: 'ProbeFailed',
                message: refusedAtHandshake('10.0.0.7:4143').message,
              },
            ],
          });
        },
        'fail',
        /is not alive \(refused this cluster's gateway certificate at the TLS handshake \(TLS 1\.3 gives the client no reason; its log line "peer gateway refused" does\)\); the west gateway refuses this cluster's gateway certificate at the TLS handshake: it does not trust this cluster's trust anchor \(in a trust-anchor rotation: step 1 not done there\), or the certificate is expired or not yet valid \(clocks\) there; the west gateway's log line "peer gateway refused" says which$/,
      ],
      [
        "probe failed and the gateway's certificate is revoked here: the hint names the revocation, not the network",
        (f) => {
          f.crlPem = { ok: true, value: westCrl([new X509Certificate(pki.westChain[0]!).serialNumber]) };
          links(f)[0]!.link = link('west', {
            conditions: [
              HEALTHY_CONDITIONS[0]!,
              probeFailed('gateway 10.0.0.7:4143 unreachable: certificate revoked'),
            ],
          });
        },
        'fail',
        /^(?![\s\S]*can reach its port)Link west: gateway 10\.0\.0\.7:4143 is not alive \(unreachable: certificate revoked\); its certificate is revoked here \(certificate serial [0-9A-F]+ is revoked by its issuer's CRL \(keyCompromise[^)]*\)\), so this cluster's gateway refuses it: the west gateway takes a new one from its identity service by itself once it loads the same CRL \(see "no linked gateway is revoked"\)$/,
      ],
      [
        "probe failed and west's issuer is revoked here: the hint names the revocation",
        (f) => {
          f.crlPem = { ok: true, value: anchorCrl([testPki().issuers.west]) };
          links(f)[0]!.link = link('west', {
            conditions: [HEALTHY_CONDITIONS[0]!, probeFailed('socket hang up')],
          });
        },
        'fail',
        /^(?![\s\S]*can reach its port)Link west: .*its certificate is revoked here \(issuer "CN=identity\.west\.cluster\.local"[^\n]*\), so this cluster's gateway refuses it: west needs a gateway certificate from an issuer that is not revoked: west's issuer must be renewed there \(isthmus certs --reuse-anchor --force, then isthmus upgrade\) \(see "no linked gateway is revoked"\)$/,
      ],
      [
        "probe failed while this cluster's own issuer is revoked: the peers refuse this gateway, not a network problem",
        (f) => {
          f.crlPem = { ok: true, value: anchorCrl([testPki().issuers.east]) };
          links(f)[0]!.link = link('west', {
            conditions: [HEALTHY_CONDITIONS[0]!, probeFailed('socket hang up')],
          });
        },
        'fail',
        /^(?![\s\S]*can reach its port)Link west: gateway 10\.0\.0\.7:4143 is not alive \(socket hang up\); this cluster's issuer is revoked \(see "no linked gateway is revoked"\), and gateways that load the same CRL refuse this cluster's gateway: renew this cluster's issuer first$/,
      ],
      [
        "probe failed while this cluster's own gateway certificate is revoked: the peers refuse it, not a network problem",
        (f) => {
          ownGatewayRevoked(f);
          links(f)[0]!.link = link('west', {
            conditions: [
              HEALTHY_CONDITIONS[0]!,
              probeFailed('gateway 10.0.0.7:4143 unreachable: connection closed during setup'),
            ],
          });
        },
        'fail',
        /^(?![\s\S]*can reach its port)Link west: gateway 10\.0\.0\.7:4143 is not alive \(unreachable: connection closed during setup\); this cluster's gateway certificate \(serial [0-9A-F]+\) is revoked \(see "no linked gateway is revoked"\), and gateways that load the same CRL refuse it: the gateway replaces it by itself once it has loaded this CRL and isthmus-identity can issue a new one: its log line starting "certificate refused by the CRL" says whether it did$/,
      ],
      [
        "probe failed while this cluster's own gateway certificate is revoked and identity runs nothing: identity is named, no restart advised",
        (f) => {
          ownGatewayRevoked(f);
          if (f.deployments.ok)
            f.deployments.value[0] = { name: 'isthmus-identity', replicas: 0, available: 0 };
          links(f)[0]!.link = link('west', {
            conditions: [HEALTHY_CONDITIONS[0]!, probeFailed('socket hang up')],
          });
        },
        'fail',
        /^(?![\s\S]*restart deployment)Link west: gateway 10\.0\.0\.7:4143 is not alive \(socket hang up\); this cluster's gateway certificate \(serial [0-9A-F]+\) is revoked [^\n]*: the gateway replaces it by itself, but only with a certificate from isthmus-identity, which is scaled to 0 \(see "the identity, gateway and controller Deployments are available"\): bring identity back first, and do not restart the gateway meanwhile \(it would start with no certificate at all\)$/,
      ],
      [
        "probe failed while this cluster's gateway is not available: the probe goes through it, so it is named, with why",
        (f) => {
          // Identity scaled to 0, the gateway restarted: it has no certificate to dial with.
          if (f.deployments.ok) {
            f.deployments.value[0] = { name: 'isthmus-identity', replicas: 0, available: 0 };
            f.deployments.value[1] = {
              name: 'isthmus-gateway',
              replicas: 1,
              available: 0,
              pods: {
                ok: true,
                value: [
                  {
                    pod: pod('isthmus-gateway-7d9f-abcde', podStatus.running(false)),
                    readiness: { ok: true, value: ['certificates not loaded'] },
                  },
                ],
              },
            };
          }
          links(f)[0]!.link = link('west', {
            conditions: [HEALTHY_CONDITIONS[0]!, probeFailed('certificates not loaded')],
          });
        },
        'fail',
        /^(?![\s\S]*check that the west gateway runs)Link west: gateway 10\.0\.0\.7:4143 is not alive \(certificates not loaded\); the probe goes through this cluster's gateway, which has no available replica \(0\/1; pod isthmus-gateway-7d9f-abcde: running, not ready: certificates not loaded; isthmus-identity, which issues its certificates, is scaled to 0\): fix it first \(see "the identity, gateway and controller Deployments are available"\)$/,
      ],
      [
        "probe failed while this cluster's gateway is scaled to 0",
        (f) => refusedWithLocalGateway(f, 0, 0),
        'fail',
        /is not alive \(ECONNREFUSED\); the probe goes through this cluster's gateway, which is scaled to 0: fix it first/,
      ],
      [
        "probe failed while one of this cluster's two gateways is available: the remote one is in question",
        (f) => refusedWithLocalGateway(f, 2, 1),
        'fail',
        /is not alive \(ECONNREFUSED\); check that the west gateway runs and that this cluster's gateway can reach its port$/,
      ],
      [
        'probe failed, the CRL revokes someone else: still a reachability hint',
        (f) => {
          f.crlPem = { ok: true, value: westCrl(['01']) };
          links(f)[0]!.link = link('west', {
            conditions: [HEALTHY_CONDITIONS[0]!, probeFailed('ECONNREFUSED')],
          });
        },
        'fail',
        /is not alive \(ECONNREFUSED\); check that the west gateway runs and that this cluster's gateway can reach its port/,
      ],
      [
        'probe failed, a CRL bundle the gateways refuse: no verdict drawn from it',
        (f) => {
          f.crlPem = {
            ok: true,
            value: createWestCrl([new X509Certificate(pki.westChain[0]!).serialNumber]),
          };
          links(f)[0]!.link = link('west', {
            conditions: [HEALTHY_CONDITIONS[0]!, probeFailed('ECONNREFUSED')],
          });
        },
        'fail',
        /check that the west gateway runs/,
      ],
      [
        'the gateway is revoked but the probe has not failed yet: nothing to explain here',
        (f) => {
          f.crlPem = { ok: true, value: westCrl([new X509Certificate(pki.westChain[0]!).serialNumber]) };
        },
        'ok',
        null,
      ],
      [
        'not probed yet',
        (f) => {
          links(f)[0]!.link = link('west', {
            conditions: [{ type: 'GatewayAlive', status: 'Unknown', reason: 'NotProbedYet' }],
          });
        },
        'warn',
        /not probed yet/,
      ],
      [
        // A hung leader (kill -STOP) keeps its Link status as it was: True while the remote is gone.
        "the controller's Lease expired: GatewayAlive=True is stale, unknown: a warning naming the Lease's age, not a pass",
        leaseExpired,
        'warn',
        new RegExp(
          `^Link west: unknown whether gateway 10\\.0\\.0\\.7:4143 is alive: its GatewayAlive=True ${STALE.source}$`,
        ),
      ],
      [
        // The controller check fails already: the remote is not blamed on a stale word.
        "the controller's Lease expired: a stale GatewayAlive=False is no failure of the remote either",
        (f) => {
          leaseExpired(f);
          links(f)[0]!.link = link('west', {
            conditions: [HEALTHY_CONDITIONS[0]!, probeFailed('ECONNREFUSED')],
          });
        },
        'warn',
        /^(?![\s\S]*check that the west gateway runs)Link west: unknown whether gateway 10\.0\.0\.7:4143 is alive: its GatewayAlive=False is stale/,
      ],
      [
        'the Lease has no holder: the status is stale, and no "run the check again" for a Link never probed',
        (f) => {
          f.lease = { ok: true, value: { leaseDurationSeconds: 15 } };
          links(f)[0]!.link = link('west', {
            conditions: [{ type: 'GatewayAlive', status: 'Unknown', reason: 'NotProbedYet' }],
          });
        },
        'warn',
        /^(?![\s\S]*run the check again)Link west: unknown whether gateway 10\.0\.0\.7:4143 is alive: its GatewayAlive=Unknown is stale and cannot be trusted: Lease isthmus-system\/isthmus-mirror has no holder, and only the leader writes it/,
      ],
      [
        'the Lease cannot be read: nothing known against the status (the controller check says why)',
        (f) => {
          f.lease = { ok: false, error: '403 Forbidden' };
        },
        'ok',
        null,
      ],
      [
        // The probe goes through this cluster's gateway: the controller says when that is the fault.
        "this cluster's gateway cannot probe: a failure here, not a wait, and the remote is not blamed",
        (f) => {
          links(f)[0]!.link = link('west', {
            conditions: [
              {
                type: 'GatewayAlive',
                status: 'Unknown',
                reason: 'LocalGatewayUnavailable',
                message:
                  "this cluster's gateway cannot probe: certificates not loaded: nothing new is known…",
              },
            ],
          });
        },
        'fail',
        /gateway 10\.0\.0\.7:4143 cannot be probed from here \(this cluster's gateway cannot probe: certificates not loaded: .*\); fix this cluster's gateway first/,
      ],
      [
        // A gateway whose own certificate the CRL revokes answers /probe "local": the revocation is the fix.
        "this cluster's gateway cannot probe because its own certificate is revoked: the revocation says what to do",
        (f) => {
          ownGatewayRevoked(f);
          links(f)[0]!.link = link('west', {
            conditions: [
              {
                type: 'GatewayAlive',
                status: 'Unknown',
                reason: 'LocalGatewayUnavailable',
                message: "this cluster's gateway cannot probe: this gateway's certificate is revoked (…)",
              },
            ],
          });
        },
        'fail',
        /cannot be probed from here \(.*\); this cluster's gateway certificate \(serial [0-9A-F]+\) is revoked .*the gateway replaces it by itself/,
      ],
      [
        'names the followed addresses, IPv6 in brackets',
        (f) => {
          links(f)[0]!.link = link('west', {
            conditions: [
              { type: 'GatewayAlive', status: 'False', reason: 'ProbeFailed', message: 'timeout' },
            ],
            gatewayAddresses: ['fd00:2::9', '10.2.0.9'],
          });
        },
        'fail',
        /gateway \[fd00:2::9\]:4143, 10\.2\.0\.9:4143 is not alive \(timeout\)/,
      ],
      [
        'a Link the controller rejects (another Link holds its cluster) is never probed: no "not probed yet"',
        (f) => {
          links(f)[0]!.link = link('west', {
            conditions: [
              {
                type: 'Ready',
                status: 'False',
                reason: 'LinkInvalid',
                message: 'targetClusterName west is already linked by Link isthmus-system/west-old',
              },
            ],
          });
        },
        'ok',
        null,
      ],
      [
        'invalid Link is skipped',
        (f) => {
          links(f)[0]!.link = link('west', { conditions: [], spec: { gatewayAddress: '' } });
        },
        'ok',
        null,
      ],
      [
        'a Link without a gateway is skipped: nothing to probe',
        (f) => {
          links(f)[0]!.link = link('west', {
            conditions: HEALTHY_CONDITIONS.slice(0, 2),
            spec: { gatewayAddress: undefined },
          });
        },
        'ok',
        null,
      ],
    ],
  ],
  [
    'mirror endpoints',
    checkMirrorEndpoints,
    [
      [
        'endpoints not ready',
        (f) => {
          f.mirrors = { ok: true, value: [mirror('podinfo-west', 'west', 0, 1)] };
        },
        'fail',
        /test\/podinfo-west: 1 endpoint\(s\), none ready: the gateway of cluster west is not alive/,
      ],
      [
        "endpoints not ready, its egress port not listed yet: this cluster's gateways are waited for, not the remote's blamed",
        (f) => {
          f.mirrors = { ok: true, value: [{ ...mirror('podinfo-west', 'west', 0, 1), listedPorts: [] }] };
        },
        'fail',
        /^test\/podinfo-west: 1 endpoint\(s\), none ready: waiting for this cluster's gateway pods to listen on egress port\(s\) 20000 \(the controller lists a port only once they do; "the gateways listen on every mirror's egress ports" and `isthmus routes` say why they do not\)$/,
      ],
      [
        'endpoints not ready with one port listed and another waiting: the remote gateway is blamed (a listed port makes the slice ready while it is alive)',
        (f) => {
          f.mirrors = {
            ok: true,
            value: [
              { ...mirror('podinfo-west', 'west', 0, 1), egressPorts: [20000, 20001], listedPorts: [20000] },
            ],
          };
        },
        'fail',
        /test\/podinfo-west: 1 endpoint\(s\), none ready: the gateway of cluster west is not alive/,
      ],
      [
        "remote pods not ready (remote discovery: no gateway involved): the remote application's state, a warning",
        (f) => {
          f.mirrors = { ok: true, value: [{ ...mirror('db-west', 'west', 0, 2), remoteDiscovery: true }] };
        },
        'warn',
        /^test\/db-west: 2 remote pod\(s\) of cluster west, none ready$/,
      ],
      [
        "no endpoints: the remote Service has no ready pod (a failover, a scale-down), the application's state, a warning",
        (f) => {
          f.mirrors = { ok: true, value: [mirror('podinfo-west', 'west', 0, 0)] };
        },
        'warn',
        /no endpoints: the service has no ready endpoint in cluster west/,
      ],
      [
        'no endpoints because no local gateway pod is ready (the slice lists those)',
        (f) => {
          f.mirrors = { ok: true, value: [mirror('podinfo-west', 'west', 0, 0)] };
          f.gatewayListeners = { ok: true, value: [{ pod: 'isthmus-gateway-b', ready: false, ports: [] }] };
        },
        'fail',
        /^test\/podinfo-west: no endpoints: no isthmus-gateway pod of this cluster is ready to carry its traffic$/,
      ],
      ['no mirrors at all', (f) => (f.mirrors = { ok: true, value: [] }), 'ok', null],
    ],
  ],
  [
    'gateway listeners',
    checkGatewayListeners,
    [
      [
        'a pod missing a listener',
        (f) => {
          f.mirrors = {
            ok: true,
            value: [mirror('podinfo-west'), { ...mirror('api-west'), egressPorts: [20001, 20002] }],
          };
          f.gatewayListeners = {
            ok: true,
            value: [
              { pod: 'isthmus-gateway-a', ready: true, ports: [20000, 20001, 20002] },
              { pod: 'isthmus-gateway-b', ready: true, ports: [20000] },
            ],
          };
        },
        'fail',
        /^isthmus-gateway-b does not listen on 20001 \(test\/api-west\), 20002 \(test\/api-west\): see its log/,
      ],
      [
        'a forged mirror claiming a real mirror’s egress port: the gateways refuse it, check names it',
        (f) => {
          f.mirrors = {
            ok: true,
            value: [mirror('podinfo-west'), { ...mirror('x'), namespace: 'aaa' }],
          };
          const refused = [
            {
              mirror: 'aaa/x',
              port: 20000,
              reason: 'egress port 20000 is already held by test/podinfo-west, an older claim',
            },
          ];
          f.gatewayListeners = {
            ok: true,
            value: [
              { pod: 'isthmus-gateway-a', ready: true, ports: [20000], refused },
              { pod: 'isthmus-gateway-b', ready: true, ports: [20000], refused },
            ],
          };
        },
        'fail',
        /^aaa\/x \(egress port 20000\): egress port 20000 is already held by test\/podinfo-west, an older claim: refused by the gateways; if the controller did not write it for a Link, it is no mirror: delete it$/,
      ],
      [
        'a forged mirror on a port of its own: reported with the reason, not as a missing listener',
        (f) => {
          f.mirrors = {
            ok: true,
            value: [mirror('podinfo-west'), { ...mirror('x'), namespace: 'aaa', egressPorts: [20005] }],
          };
          f.gatewayListeners = refusing({
            mirror: 'aaa/x',
            reason:
              'remote gateway 10.96.0.1:443 is not one the Link to cluster "west" names (spec.gatewayAddress and gatewayPort, or status.gatewayAddresses)',
          });
        },
        'fail',
        /^aaa\/x: remote gateway 10\.96\.0\.1:443 is not one the Link to cluster "west" names .*: refused by the gateways; if the controller did not write it/,
      ],
      [
        'a mirror whose remote gateway is changing still serves its last routes: a warning',
        (f) => {
          f.gatewayListeners = refusing({
            mirror: 'test/podinfo-west',
            reason:
              'remote gateway 10.0.0.8:4143 is not one the Link to cluster "west" names; its last admitted routes (to 10.0.0.7:4143) serve until the Link names it',
            kept: true,
          });
        },
        'warn',
        /^test\/podinfo-west: remote gateway 10\.0\.0\.8:4143 .* \(the gateways; until then it is served as before\)$/,
      ],
      [
        'a mirror refused because its cluster’s only Link was made invalid by hand: fix the Link, never delete the mirror',
        (f) => invalidatedByHand(f, false),
        'fail',
        /^(?![\s\S]*delete)test\/podinfo-west: remote gateway 127\.0\.141\.2:4143 is not one the Link to cluster "west" names .*: refused by the gateways; the Link west to cluster "west" is invalid: fix the Link \(see "every Link is valid"\); the mirror is the controller's, keep it$/,
      ],
      [
        'a pod that does not answer',
        (f) => {
          f.gatewayListeners = {
            ok: true,
            value: [{ pod: 'isthmus-gateway-a', ready: true, error: '503 Service Unavailable' }],
          };
        },
        'warn',
        /isthmus-gateway-a: cannot read its listeners \(\/routes on the admin port\): 503 Service Unavailable/,
      ],
      [
        'a pod that is not ready (starting, or draining) gets no callers: its listeners do not count',
        (f) => {
          f.gatewayListeners = {
            ok: true,
            value: [
              { pod: 'isthmus-gateway-a', ready: true, ports: [20000] },
              { pod: 'isthmus-gateway-b', ready: false, ports: [] },
            ],
          };
        },
        'ok',
        null,
      ],
      [
        'no ready gateway pod',
        (f) => {
          f.gatewayListeners = { ok: true, value: [{ pod: 'isthmus-gateway-b', ready: false, ports: [] }] };
        },
        'warn',
        /^no ready isthmus-gateway pod to ask: mirrors have nowhere to go$/,
      ],
      [
        'no gateway pod',
        (f) => {
          f.gatewayListeners = { ok: true, value: [] };
        },
        'warn',
        /no running isthmus-gateway pod/,
      ],
      [
        'no mirrors, no gateway: nothing to check',
        (f) => {
          f.mirrors = { ok: true, value: [] };
          f.gatewayListeners = { ok: true, value: [] };
        },
        'ok',
        null,
      ],
      [
        'pods unreadable',
        (f) => {
          f.gatewayListeners = { ok: false, error: '403 Forbidden' };
        },
        'fail',
        /cannot read gateway pods: 403 Forbidden/,
      ],
    ],
  ],
  [
    'mirrors belong to a Link',
    checkMirrorsOwned,
    [
      [
        'orphan',
        (f) => {
          f.mirrors = { ok: true, value: [mirror('podinfo-west'), mirror('db-north', 'north')] };
        },
        'fail',
        /test\/db-north: cluster "north" has no Link; delete the mirror/,
      ],
      [
        'a Service whose remote gateway is not its Link’s',
        (f) => {
          f.mirrors = {
            ok: true,
            value: [
              { ...mirror('podinfo-west'), remoteGateway: '10.0.0.7:4143' },
              { ...mirror('x'), namespace: 'aaa', remoteGateway: '10.96.0.1:443' },
            ],
          };
        },
        'fail',
        /^aaa\/x: its remote gateway 10\.96\.0\.1:443 is not one the Link to cluster "west" names .*delete it \(`kubectl -n aaa delete svc x`\)$/,
      ],
      [
        'a Link made invalid by hand, the gateways still serving the mirror: fix the Link, never delete the mirror',
        (f) => invalidatedByHand(f, true),
        'warn',
        /^(?![\s\S]*delete)test\/podinfo-west: the Link west to cluster "west" is invalid \(gatewayAddress: "127\.0\.141\.2:4143" is neither an IP address nor a DNS name: give the address alone, and its port in gatewayPort\), so it names no gateway for the mirror's routes \(to 127\.0\.141\.2:4143\): fix the Link \(see "every Link is valid"\); the mirror is the controller's, keep it; the gateways still serve its last admitted routes \(\/routes: kept\)$/,
      ],
      [
        'a Link made invalid by hand, its mirror no longer served (a gateway restarted since): fix the Link, still no delete',
        (f) => invalidatedByHand(f, false),
        'fail',
        /^(?![\s\S]*delete)test\/podinfo-west: the Link west to cluster "west" is invalid \(gatewayAddress: .*\): fix the Link \(see "every Link is valid"\); the mirror is the controller's, keep it; until then the gateways refuse its routes$/,
      ],
      [
        'a Link made invalid by hand, one gateway pod of two still serving the mirror: it is named',
        (f) => {
          invalidatedByHand(f, true);
          const [keeping] = f.gatewayListeners.ok ? f.gatewayListeners.value : [];
          f.gatewayListeners = {
            ok: true,
            value: [
              keeping!,
              {
                pod: 'isthmus-gateway-b',
                ready: true,
                ports: [],
                refused: [{ mirror: 'test/podinfo-west', reason: 'not named' }],
              },
            ],
          };
        },
        'fail',
        /^(?![\s\S]*delete)test\/podinfo-west: the Link west .* keep it; only isthmus-gateway-a still serves its last admitted routes \(\/routes: kept\), the other gateways refuse them$/,
      ],
      [
        'a Link made invalid by hand, no gateway pod answering: nothing said of what they serve',
        (f) => {
          invalidatedByHand(f, true);
          f.gatewayListeners = { ok: false, error: '403 Forbidden' };
        },
        'fail',
        /^(?![\s\S]*delete)test\/podinfo-west: the Link west .*; the mirror is the controller's, keep it$/,
      ],
      [
        'a Link invalid to the check before the controller says so: the spec is quoted',
        (f) => {
          invalidatedByHand(f, false);
          links(f)[0]!.link = link('west', { spec: { gatewayAddress: '127.0.141.2:4143' } });
        },
        'fail',
        /^(?![\s\S]*delete)test\/podinfo-west: the Link west to cluster "west" is invalid \(gatewayAddress: "127\.0\.141\.2:4143" is neither an IP address nor a DNS name: give the address alone, and its port in gatewayPort\), .*fix the Link/,
      ],
      [
        'a forged mirror beside a valid Link to its cluster and an invalid duplicate: still no mirror',
        (f) => {
          f.links = {
            ok: true,
            value: [
              linkFacts(link('west')),
              linkFacts(
                link('west-old', {
                  spec: { targetClusterName: 'west' },
                  conditions: [
                    {
                      type: 'Ready',
                      status: 'False',
                      reason: 'LinkInvalid',
                      message: 'targetClusterName west is already linked by Link isthmus-system/west',
                    },
                  ],
                }),
              ),
            ],
          };
          f.mirrors = {
            ok: true,
            value: [{ ...mirror('x'), namespace: 'aaa', remoteGateway: '10.96.0.1:443' }],
          };
        },
        'fail',
        /^aaa\/x: its remote gateway 10\.96\.0\.1:443 is not one the Link to cluster "west" names .*delete it/,
      ],
      [
        'the remote gateway in the Link’s status (the remote LoadBalancer it follows), IPv6 bracketed',
        (f) => {
          f.links = { ok: true, value: [linkFacts(link('west', { gatewayAddresses: ['fd00:10::7'] }))] };
          f.mirrors = {
            ok: true,
            value: [{ ...mirror('podinfo-west'), remoteGateway: '[fd00:10::7]:4143' }],
          };
        },
        'ok',
        null,
      ],
    ],
  ],
  [
    'exports mirrored',
    checkExportsMirrored,
    [
      [
        'missing namespace',
        (f) => {
          links(f)[0]!.link.status!.services = [
            {
              namespace: 'shop',
              name: 'cart',
              reason: 'MissingNamespace',
              message: 'namespace shop does not exist',
            },
          ];
        },
        'warn',
        /Link west: shop\/cart is not mirrored \(MissingNamespace: namespace shop does not exist\)/,
      ],
      [
        "an export that does not admit this cluster is the owner's choice, not a fault",
        (f) => {
          links(f)[0]!.link.status!.services = [
            { namespace: 'shop', name: 'cart', reason: 'NotAllowed', message: 'admits only north' },
          ];
        },
        'ok',
        null,
      ],
      [
        'more than the status lists: the rest are counted',
        (f) => {
          const status = links(f)[0]!.link.status!;
          status.services = [{ namespace: 'shop', name: 'cart', reason: 'MissingNamespace' }];
          status.servicesNotMirrored = 4200;
        },
        'warn',
        /Link west: 4199 more services are not mirrored \(the Link's status names the first 1; `kubectl describe link west -n isthmus-system` shows the controller's Warning events\)/,
      ],
      [
        'the controller says none of the Services the Link picks can be mirrored: a failure',
        (f) => {
          links(f)[0]!.link = link('west', {
            conditions: [...HEALTHY_CONDITIONS, servicesMirrored('NoneMirrored')],
          });
        },
        'fail',
        /^Link west: none of the Services it picks is mirrored \(ServicesMirrored=False\): 1 of 1 services not mirrored: shop\/cart \(ApplyFailed\); status\.services says why$/,
      ],
      [
        'the controller says some cannot be mirrored: a warning',
        (f) => {
          links(f)[0]!.link = link('west', {
            conditions: [...HEALTHY_CONDITIONS, servicesMirrored('SomeNotMirrored')],
          });
        },
        'warn',
        /^Link west: some of the Services it picks are not mirrored \(ServicesMirrored=False\): 1 of 1 services not mirrored: shop\/cart \(ApplyFailed\); status\.services says why$/,
      ],
      [
        'mirror deletions held after a remote list shrank: a warning that says so, not "not mirrored"',
        (f) => {
          links(f)[0]!.link = link('west', {
            conditions: [
              ...HEALTHY_CONDITIONS,
              {
                ...servicesMirrored('RemoteListShrunk'),
                message: "2 mirrors kept although the remote's last list lacks their Services",
              },
            ],
          });
        },
        'warn',
        /^Link west: the deletion of mirrors its remote no longer lists is held \(ServicesMirrored=False, RemoteListShrunk\): 2 mirrors kept although the remote's last list lacks their Services\. If the remote cluster's API server was restored or is being restored, restore its Services before then; if they were deleted, nothing to do$/,
      ],
      [
        'mirror deletions held, and none of the Services can be mirrored for another reason: still a failure',
        (f) => {
          links(f)[0]!.link = link('west', {
            conditions: [
              ...HEALTHY_CONDITIONS,
              {
                ...servicesMirrored('RemoteListShrunk'),
                message:
                  "2 mirrors kept although the remote's last list lacks their Services; besides, 1 of 1 services not mirrored: shop/cart (ApplyFailed); status.services says why",
              },
            ],
          });
          links(f)[0]!.link.status!.mirroredServices = 0;
          links(f)[0]!.link.status!.services = [
            { namespace: 'shop', name: 'cart', reason: 'ApplyFailed', message: 'forbidden' },
          ];
        },
        'fail',
        /^Link west: none of the Services it picks is mirrored \(ServicesMirrored=False\), so it serves nothing; each Service's reason follows\nLink west: the deletion of mirrors its remote no longer lists is held \(ServicesMirrored=False, RemoteListShrunk\): 2 mirrors kept [^\n]*\nLink west: shop\/cart is not mirrored \(ApplyFailed: forbidden\)$/,
      ],
      [
        'a Conflict: one line, which says what to do, though both the condition and status.services name it',
        (f) => {
          links(f)[0]!.link = link('west', {
            conditions: [
              ...HEALTHY_CONDITIONS,
              {
                ...servicesMirrored('SomeNotMirrored'),
                message: '1 of 2 services not mirrored: test/web (Conflict); status.services says why',
              },
            ],
          });
          links(f)[0]!.link.status!.services = [
            {
              namespace: 'test',
              name: 'web',
              reason: 'Conflict',
              message:
                "Service test/web-west exists and is not a mirror of west: delete or rename the local Service test/web-west, or stop exporting west's test/web",
            },
          ];
        },
        'warn',
        /^Link west: test\/web is not mirrored \(Conflict: Service test\/web-west exists and is not a mirror of west: delete or rename the local Service test\/web-west, or stop exporting west's test\/web\)$/,
      ],
      [
        'none mirrored and status.services says why: a failure that the Link serves nothing, and one line per Service',
        (f) => {
          links(f)[0]!.link = link('west', {
            conditions: [...HEALTHY_CONDITIONS, servicesMirrored('NoneMirrored')],
          });
          links(f)[0]!.link.status!.services = [
            { namespace: 'shop', name: 'cart', reason: 'ApplyFailed', message: 'forbidden' },
          ];
        },
        'fail',
        /^Link west: none of the Services it picks is mirrored \(ServicesMirrored=False\), so it serves nothing; each Service's reason follows\nLink west: shop\/cart is not mirrored \(ApplyFailed: forbidden\)$/,
      ],
      [
        "the controller's Lease expired: a Link mirrored as last seen is not known to be now, a warning, not a pass",
        leaseExpired,
        'warn',
        new RegExp(
          `^Link west: its mirroring status \\(ServicesMirrored, status\\.services\\) ${STALE.source}$`,
        ),
      ],
      [
        "the controller's Lease expired: a stale NoneMirrored is said, as the last leader saw it, in a warning",
        (f) => {
          leaseExpired(f);
          links(f)[0]!.link = link('west', {
            conditions: [...HEALTHY_CONDITIONS, servicesMirrored('NoneMirrored')],
          });
        },
        'warn',
        /^Link west: its mirroring status \(ServicesMirrored, status\.services\) is stale [^\n]*\nLink west: none of the Services it picks is mirrored \(ServicesMirrored=False\)/,
      ],
      [
        "more than the status lists, but the rest are NotAllowed: the exporter's choice, no warning",
        (f) => {
          const status = links(f)[0]!.link.status!;
          status.services = Array.from({ length: 100 }, (_, i) => ({
            namespace: 'shop',
            name: `svc-${i}`,
            reason: 'NotAllowed',
          }));
          status.servicesNotMirrored = 150;
          status.servicesNotAllowed = 150;
        },
        'ok',
        null,
      ],
    ],
  ],
  [
    'federated services',
    checkFederated,
    [
      [
        'a member without ready endpoints: a warning naming it',
        (f) => {
          f.federated = { ok: true, value: [federatedRow({ east: 2 })] };
        },
        'warn',
        /^shop\/cart-federated: member west has no ready endpoint/,
      ],
      [
        'no member serves: a failure',
        (f) => {
          f.federated = { ok: true, value: [federatedRow({})] };
        },
        'fail',
        /^shop\/cart-federated: no member cluster has a ready endpoint \(members: east, west\)/,
      ],
      [
        'affinity local: a remote member on standby while the local pods serve is no warning',
        (f) => {
          f.federated = { ok: true, value: [federatedRow({ east: 2 }, 'local', ['west'])] };
        },
        'ok',
        null,
      ],
      [
        'affinity local: a local member with no ready endpoint while the remote ones serve is a warning, not standby',
        (f) => {
          f.federated = { ok: true, value: [federatedRow({ west: 1 }, 'local')] };
        },
        'warn',
        /^shop\/cart-federated: member east \(this cluster\) has no ready endpoint/,
      ],
      [
        'the local member (the install names this cluster) without ready endpoints: no gateway is involved, none is named',
        (f) => {
          f.localCluster = 'east';
          f.federated = { ok: true, value: [federatedRow({ west: 1 })] };
        },
        'warn',
        /^(?![\s\S]*gateway)shop\/cart-federated: member east \(this cluster\) has no ready endpoint: the pods of its Service shop\/cart are not ready, or its ports are named otherwise than shop\/cart-federated's \(an event on shop\/cart-federated says so\)$/,
      ],
      [
        'a remote member without ready endpoints: its gateway may be why',
        (f) => {
          f.localCluster = 'east';
          f.federated = { ok: true, value: [federatedRow({ east: 2 })] };
        },
        'warn',
        /^shop\/cart-federated: member west has no ready endpoint: its pods are not ready, its ports are named otherwise than shop\/cart-federated's \(an event on shop\/cart-federated says so\), or its gateway does not answer \(isthmus gateways\)$/,
      ],
      [
        'a remote member whose Link says its gateway is not alive: that gateway is named, not every possible cause',
        (f) => {
          f.localCluster = 'east';
          links(f)[0]!.link = link('west', {
            conditions: [
              HEALTHY_CONDITIONS[0]!,
              probeFailed('gateway 10.0.0.7:4143 unreachable: ECONNREFUSED'),
            ],
          });
          f.federated = { ok: true, value: [federatedRow({ east: 2 })] };
        },
        'warn',
        /^shop\/cart-federated: member west has no ready endpoint: its gateway 10\.0\.0\.7:4143 is not alive \(unreachable: ECONNREFUSED\) \(see "remote gateways are alive"\)$/,
      ],
      [
        "a remote member whose Link said its gateway is not alive, while the controller's Lease is expired: that stale word is no cause",
        (f) => {
          f.localCluster = 'east';
          leaseExpired(f);
          links(f)[0]!.link = link('west', {
            conditions: [HEALTHY_CONDITIONS[0]!, probeFailed('ECONNREFUSED')],
          });
          f.federated = { ok: true, value: [federatedRow({ east: 2 })] };
        },
        'warn',
        /^shop\/cart-federated: member west has no ready endpoint: its pods are not ready, its ports are named otherwise than shop\/cart-federated's \(an event on shop\/cart-federated says so\), or its gateway does not answer \(isthmus gateways\)$/,
      ],
      [
        'a remote member whose mirror lists no endpoint: its Service has none ready there, and that is said',
        (f) => {
          f.localCluster = 'east';
          f.mirrors = { ok: true, value: [{ ...mirror('cart-west', 'west', 0, 0), namespace: 'shop' }] };
          f.federated = { ok: true, value: [federatedRow({ east: 2 })] };
        },
        'warn',
        /^shop\/cart-federated: member west has no ready endpoint: its Service shop\/cart has no ready endpoint in west \(the mirror shop\/cart-west lists none\)$/,
      ],
      [
        'a remote member whose ports the controller found all named otherwise: that is said',
        (f) => {
          f.localCluster = 'east';
          f.federated = { ok: true, value: [{ ...federatedRow({ east: 2 }), noMatchingPort: ['west'] }] };
        },
        'warn',
        /^shop\/cart-federated: member west has no ready endpoint: none of its ports is named as a port of shop\/cart-federated \(an event on shop\/cart-federated says so\)$/,
      ],
      [
        "a remote member without ready endpoints while this cluster's gateway is down: the local gateway is named, not the member",
        (f) => {
          f.localCluster = 'east';
          f.gatewayListeners = { ok: true, value: [{ pod: 'isthmus-gateway-b', ready: false, ports: [] }] };
          f.federated = { ok: true, value: [federatedRow({ east: 2 })] };
        },
        'warn',
        /^shop\/cart-federated: member west has no ready endpoint here: no isthmus-gateway pod of this cluster is ready to carry its traffic$/,
      ],
      [
        'a remote member linked without a gateway (a flat network): no gateway to blame',
        (f) => {
          f.localCluster = 'east';
          links(f)[0]!.link = link('west', { spec: { gatewayAddress: undefined } });
          f.federated = { ok: true, value: [federatedRow({ east: 2 })] };
        },
        'warn',
        /^(?![\s\S]*gateway)shop\/cart-federated: member west has no ready endpoint: its pods are not ready, or its ports are named otherwise/,
      ],
      [
        "an install that does not name its cluster: the member no Link names is this cluster's",
        (f) => {
          f.federated = { ok: true, value: [federatedRow({ west: 1 })] };
        },
        'warn',
        /^(?![\s\S]*gateway)shop\/cart-federated: member east \(this cluster\) has no ready endpoint/,
      ],
      [
        'affinity local, nothing serves: a failure still',
        (f) => {
          f.federated = { ok: true, value: [federatedRow({}, 'local')] };
        },
        'fail',
        /no member cluster has a ready endpoint/,
      ],
      [
        'every member serves',
        (f) => {
          f.federated = { ok: true, value: [federatedRow({ east: 2, west: 1 })] };
        },
        'ok',
        null,
      ],
      [
        'unreadable',
        (f) => {
          f.federated = { ok: false, error: '403 Forbidden' };
        },
        'fail',
        /cannot read federated Services: 403 Forbidden/,
      ],
    ],
  ],
  [
    'failover TrafficSplits',
    checkTrafficSplits,
    [
      [
        'acted on, on its primary',
        (f) => {
          f.trafficSplits = { ok: true, value: [split()] };
        },
        'ok',
        null,
      ],
      [
        'a backend that names no Service: a warning that says where a mirror comes from, though status says Primary',
        (f) => {
          f.trafficSplits = {
            ok: true,
            value: [
              split({
                type: 'ResolvedRefs',
                status: 'False',
                reason: 'BackendNotFound',
                message: 'no Service named podinfo-west; counted as having no ready endpoint',
              }),
            ],
          };
        },
        'warn',
        /^TrafficSplit test\/podinfo: no Service named podinfo-west; counted as having no ready endpoint: a remote backend is a mirror, <service>-<cluster>; is that cluster linked/,
      ],
      [
        'no backend ready: a failure',
        (f) => {
          f.trafficSplits = {
            ok: true,
            value: [
              split({
                type: 'Available',
                status: 'False',
                reason: 'NothingReady',
                message: 'no backend has a ready endpoint',
              }),
            ],
          };
        },
        'fail',
        /^TrafficSplit test\/podinfo: NothingReady: no backend has a ready endpoint$/,
      ],
      [
        'refused by the controller: a failure with its reason',
        (f) => {
          f.trafficSplits = {
            ok: true,
            value: [
              split({
                type: 'Accepted',
                status: 'False',
                reason: 'NoPrimary',
                message: 'no backend is the primary',
              }),
            ],
          };
        },
        'fail',
        /^TrafficSplit test\/podinfo: not acted on \(NoPrimary\): no backend is the primary; the weights and any apex EndpointSlices it wrote stay as they are, and its traffic reaches no backend$/,
      ],
      [
        'apex not steered: a warning',
        (f) => {
          f.trafficSplits = {
            ok: true,
            value: [
              split({
                type: 'Steered',
                status: 'False',
                reason: 'ApexConflict',
                message: 'split test/older steers podinfo',
              }),
            ],
          };
        },
        'warn',
        /steers no caller \(ApexConflict\): split test\/older steers podinfo/,
      ],
      [
        'no status, or a change not acted on yet: a warning',
        (f) => {
          const unhandled = split();
          unhandled.status = {};
          const changed = split();
          changed.metadata!.generation = 3;
          f.trafficSplits = { ok: true, value: [unhandled, changed] };
        },
        'warn',
        /no status yet: no failover controller has acted on it[\s\S]*has not acted on its latest change yet \(generation 3, status of 2\)/,
      ],
      [
        'unreadable',
        (f) => {
          f.trafficSplits = { ok: false, error: '403 Forbidden' };
        },
        'fail',
        /cannot read TrafficSplits: 403 Forbidden/,
      ],
    ],
  ],
  [
    'certificates',
    checkCertificates,
    [
      [
        'issuer unreadable',
        (f) => {
          f.issuerPem = { ok: false, error: 'Secret not found' };
        },
        'fail',
        /cannot read the issuer certificate.*Secret not found/,
      ],
      [
        'garbage',
        (f) => {
          f.anchorPem = { ok: true, value: 'hello' };
        },
        'fail',
        /trust anchor .* is not a certificate/,
      ],
      [
        'an anchor rotation: each anchor of the bundle is inspected, the issuer chains to one',
        (f) => {
          f.anchorPem = { ok: true, value: anchorBundle };
          f.issuerPem = { ok: true, value: foreignTestPki().issuers.east.certPem };
        },
        'ok',
        null,
      ],
      [
        'an anchor rotation: garbage in the bundle',
        (f) => {
          f.anchorPem = {
            ok: true,
            value: `${anchorBundle}-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n`,
          };
        },
        'fail',
        /trust anchor #3 of 3 .* is not a certificate/,
      ],
      [
        'issuer from another anchor',
        (f) => {
          f.issuerPem = { ok: true, value: foreignTestPki().issuers.east.certPem };
        },
        'fail',
        /the issuer does not chain to the trust anchor/,
      ],
      [
        'issuer seen a year later',
        (f) => {
          f.now = new Date(f.now.getTime() + 366 * 86_400_000);
        },
        'fail',
        /issuer certificate .* expired at/,
      ],
    ],
  ],
  [
    'versions',
    checkVersions,
    [
      [
        'mid-upgrade: one gateway pod runs a newer version',
        (f) => {
          f.podVersions = {
            ok: true,
            value: [{ component: 'gateway', pods: { [VERSION]: 1, '9.9.9': 1 } }],
          };
        },
        'warn',
        /^gateway: pods of another version than this CLI: 9\.9\.9 \(1 pod\); mid-upgrade, wait for the rollout/,
      ],
      [
        'pods from a CLI that recorded no version',
        (f) => {
          f.podVersions = { ok: true, value: [{ component: 'controller', pods: { unknown: 2 } }] };
        },
        'warn',
        /^controller: pods of another version than this CLI: unknown \(2 pods\) \(unknown: an image tagged with no version, such as a digest or latest/,
      ],
      [
        'pods that may not be listed: a warning, the other checks judge the install',
        (f) => {
          f.podVersions = { ok: false, error: 'pods is forbidden' };
        },
        'warn',
        /cannot list the pods in isthmus-system: pods is forbidden/,
      ],
      [
        "an image tagged v<version> runs the CLI's version",
        (f) => {
          f.podVersions = { ok: true, value: [{ component: 'gateway', pods: { [`v${VERSION}`]: 2 } }] };
        },
        'ok',
        null,
      ],
      [
        'no pods at all: nothing runs another version (the Deployments check fails instead)',
        (f) => {
          f.podVersions = { ok: true, value: [] };
        },
        'ok',
        null,
      ],
    ],
  ],
])('%s', (_name, check, cases) => {
  it.each(cases)('%s', (_case, change, status, hint) => {
    const result = check(facts(change));
    expect(result.status, result.hints.join('\n')).toBe(status);
    if (hint) expect(result.hints.join('\n')).toMatch(hint);
    else expect(result.hints).toEqual([]);
  });
});

describe('deployments: why their pods are not available', () => {
  const GW = 'isthmus-gateway-7d9f-abcde';
  const describeGateway =
    "Deployment isthmus-gateway has no available replica (0/2); see `kubectl -n isthmus-system describe deployment/isthmus-gateway` and its pods' logs";

  it('names each unready pod with the install flag that fixes it', () => {
    const result = checkDeployments(
      facts((f) => {
        if (!f.deployments.ok) return;
        f.deployments.value[1] = {
          name: 'isthmus-gateway',
          replicas: 2,
          available: 0,
          pods: {
            ok: true,
            value: [
              {
                pod: pod(
                  GW,
                  podStatus.waiting('ErrImagePull', 'pull access denied, repository does not exist'),
                ),
              },
              {
                pod: pod(
                  'isthmus-gateway-7d9f-fghij',
                  podStatus.unschedulable(
                    '0/3 nodes are available: 3 node(s) had untolerated taint {dedicated: edge}.',
                  ),
                ),
              },
            ],
          },
        };
      }),
    );
    expect(result.status).toBe('fail');
    expect(result.hints).toEqual([
      describeGateway,
      `pod ${GW}: ErrImagePull: pull access denied, repository does not exist; check \`--image\` and \`--image-pull-secret\` (the Secret must exist in isthmus-system)`,
      "pod isthmus-gateway-7d9f-fghij: not schedulable: 0/3 nodes are available: 3 node(s) had untolerated taint {dedicated: edge}; `--toleration`/`--gateway-toleration` must tolerate the nodes' taints",
    ]);
  });

  it('warns with what a running controller replica says it waits for', () => {
    const result = checkDeployments(
      facts((f) => {
        if (!f.deployments.ok) return;
        const stuck = pod('isthmus-controller-6f5d-klmno', podStatus.running(false));
        f.deployments.value[2] = {
          name: 'isthmus-controller',
          replicas: 2,
          available: 1,
          pods: {
            ok: true,
            value: [{ pod: stuck, readiness: { ok: true, value: ['caches not synced yet'] } }],
          },
        };
      }),
    );
    expect(result.status).toBe('warn');
    expect(result.hints.slice(1)).toEqual([
      'pod isthmus-controller-6f5d-klmno: running, not ready: caches not synced yet',
    ]);
  });

  it('keeps the describe hint when the pods may not be listed', () => {
    const result = checkDeployments(
      facts((f) => {
        if (f.deployments.ok)
          f.deployments.value[1] = {
            name: 'isthmus-gateway',
            replicas: 2,
            available: 0,
            pods: { ok: false, error: 'GET pods: 403 Forbidden', forbidden: true },
          };
      }),
    );
    expect(result.hints).toEqual([describeGateway, 'pod details need `list pods` in isthmus-system']);
  });
});

// `kill -STOP` of the leader: its Lease runs out, its Link status stays as it was (GatewayAlive=True).
describe('a hung controller (its Lease expired, the Link status as it left it)', () => {
  it('fails the controller check alone; what reads the stale status warns, so the exit status is the failure', () => {
    const results = runChecks(facts(leaseExpired));
    expect(results.filter((r) => r.status !== 'ok').map((r) => [r.description, r.status])).toEqual([
      ['the controller is running and leader elected', 'fail'],
      ['remote gateways are alive', 'warn'],
      ['every exported service is mirrored', 'warn'],
    ]);
    expect(
      checksPassed(results.filter((r) => r.description !== 'the controller is running and leader elected')),
    ).toBe(true);
  });
});

describe('a cluster where Isthmus is not installed', () => {
  /** What the gatherer reads from a cluster without the install: every read answers, with nothing. */
  const uninstalled = (change: (f: CheckFacts) => void = () => {}) =>
    facts((f) => {
      f.installNamespace = { ok: true, value: 'absent' };
      f.crds = {
        ok: true,
        value: { 'links.multicluster.isthmus.dev': false, 'trafficsplits.split.smi-spec.io': false },
      };
      f.deployments = { ok: true, value: [] };
      f.links = { ok: false, error: 'the server could not find the requested resource' };
      f.podVersions = { ok: true, value: [] };
      f.mirrors = { ok: true, value: [] };
      change(f);
    });
  const INSTALL =
    'install it with `isthmus install --cluster-name <name> --trust-anchor <ca.crt> --issuer-cert <issuer.crt> --issuer-key <issuer.key> | kubectl apply -f -` (see `isthmus check --pre` first), or, if it is installed, check --context and --kubeconfig';

  it('stops at one failure that says so and how to install, as linkerd check stops at a missing prerequisite', () => {
    expect(runChecks(uninstalled())).toEqual([
      {
        description: 'Isthmus is installed in this cluster',
        status: 'fail',
        hints: [
          `Isthmus is not installed in this cluster: no namespace isthmus-system, no CRD links.multicluster.isthmus.dev or trafficsplits.split.smi-spec.io, no Deployment isthmus-identity, isthmus-gateway or isthmus-controller; ${INSTALL}`,
        ],
      },
    ]);
  });

  it('after `isthmus uninstall --keep-traffic-split-crd`: the CRD it kept is no install', () => {
    const results = runChecks(
      uninstalled((f) => {
        if (f.crds.ok) f.crds.value['trafficsplits.split.smi-spec.io'] = true;
      }),
    );
    expect(results.map((r) => r.hints)).toEqual([
      [
        `Isthmus is not installed in this cluster: no namespace isthmus-system, no CRD links.multicluster.isthmus.dev, no Deployment isthmus-identity, isthmus-gateway or isthmus-controller; ${INSTALL}`,
      ],
    ]);
  });

  it('while `kubectl delete` of an uninstall is emptying the namespace', () => {
    const results = runChecks(
      uninstalled((f) => {
        f.installNamespace = { ok: true, value: 'terminating' };
      }),
    );
    expect(results.map((r) => [r.status, r.hints])).toEqual([
      [
        'fail',
        [
          `Isthmus is not installed in this cluster: namespace isthmus-system is being deleted, no CRD links.multicluster.isthmus.dev or trafficsplits.split.smi-spec.io, no Deployment isthmus-identity, isthmus-gateway or isthmus-controller; ${INSTALL}`,
        ],
      ],
    ]);
  });

  it('an install missing only some parts gets every check, which name what is missing', () => {
    const partial = runChecks(
      uninstalled((f) => {
        f.installNamespace = { ok: true, value: 'active' };
        if (f.crds.ok) f.crds.value['links.multicluster.isthmus.dev'] = true;
      }),
    );
    expect(partial.length).toBe(CHECKS.length);
    // Nor does a namespace that cannot be read stop them.
    const unreadableNamespace = runChecks(
      facts((f) => {
        f.installNamespace = { ok: false, error: '403 Forbidden' };
      }),
    );
    expect(unreadableNamespace.map((r) => r.status)).toEqual(CHECKS.map(() => 'ok'));
  });
});

describe('an install without a gateway (isthmus install --no-gateway)', () => {
  /** A flat-network cluster: the controller alone, one gateway-less Link, a remote-discovery mirror. */
  const flat = (change: (f: CheckFacts) => void = () => {}) =>
    facts((f) => {
      const { gatewayAddress: _a, gatewayPort: _p, gatewayIdentity: _i, ...spec } = link('west').spec;
      const conditions = HEALTHY_CONDITIONS.filter((c) => c.type !== 'GatewayAlive');
      f.gatewayInstalled = false;
      f.links = {
        ok: true,
        value: [{ link: { ...link('west', { conditions }), spec }, remote: links(f)[0]!.remote }],
      };
      f.deployments = { ok: true, value: [{ name: 'isthmus-controller', replicas: 2, available: 2 }] };
      f.anchorPem = { ok: false, error: 'ConfigMap not found' };
      f.issuerPem = { ok: false, error: 'Secret not found' };
      f.gatewayListeners = { ok: true, value: [] };
      f.mirrors = { ok: true, value: [{ ...mirror('db-west'), egressPorts: [], remoteDiscovery: true }] };
      change(f);
    });

  it('passes every check, and says which ones had nothing to check', () => {
    const results = runChecks(flat());
    expect(results.filter((r) => r.status !== 'ok').map((r) => [r.description, r.hints])).toEqual([]);
    expect(results.filter((r) => r.description.endsWith('no gateway installed (--no-gateway)')).length).toBe(
      4,
    );
    expect(checkDeployments(flat()).description).toBe(
      'the controller Deployment is available (no gateway installed)',
    );
    expect(checkGatewaysAlive(flat()).description).toBe('remote gateways are alive: no Link has a gateway');
  });

  it('fails a Link with a gateway: nothing here can reach it', () => {
    const f = flat((x) => {
      x.links = { ok: true, value: [linkFacts(link('west'), pki.westChain)] };
    });
    const result = checkLinksValid(f);
    expect(result.status).toBe('fail');
    expect(result.hints.join()).toMatch(
      /Link west: invalid spec: gatewayAddress is set, but this cluster has no gateway of its own .*isthmus link --no-gateway/,
    );
    // Not also reported as a dead gateway: it is never probed.
    expect(checkGatewaysAlive(f).status).toBe('ok');
  });

  it('fails mirrors that still send callers to egress ports, and a controller that is not running', () => {
    const stale = flat((x) => {
      x.mirrors = { ok: true, value: [mirror('web-west')] };
    });
    expect(checkGatewayListeners(stale)).toMatchObject({
      status: 'fail',
      hints: [
        expect.stringMatching(
          /no gateway \(--no-gateway\), yet mirrors send callers to egress ports: test\/web-west \(20000\)/,
        ),
      ],
    });
    const down = flat((x) => {
      x.deployments = { ok: true, value: [{ name: 'isthmus-controller', replicas: 2, available: 0 }] };
    });
    expect(checkDeployments(down).hints).toEqual([
      expect.stringMatching(/^Deployment isthmus-controller has no available replica \(0\/2\)/),
    ]);
  });
});

describe('expiryVerdict', () => {
  const day = 86_400_000;
  const from = new Date('2030-01-01T00:00:00Z');
  const at = (days: number) => new Date(from.getTime() + days * day);
  it.each([
    ['a year-long issuer with 60 days left', 365, 305, 'ok'],
    ['a year-long issuer with 29 days left', 365, 336, 'warn'],
    ['a 10-year anchor with 31 days left', 3650, 3619, 'ok'],
    ['a 10-year anchor with 29 days left', 3650, 3621, 'warn'],
    ['a 7-day certificate with 1 day left (over 10%)', 7, 6, 'ok'],
    ['a 7-day certificate with 0.5 days left (under 10%)', 7, 6.5, 'warn'],
    ['expired', 365, 366, 'fail'],
    ['not valid yet', 365, -1, 'fail'],
  ])('%s → %s', (_name, lifeDays, nowDays, status) => {
    expect(expiryVerdict(from, at(lifeDays), at(nowDays)).status).toBe(status);
  });
});

/** One ready gateway pod listening on 20000 that refused `claim` (its `/routes`). */
/**
 * `kubectl patch link west` with a port inside gatewayAddress: the controller marks the Link
 * invalid, and the mirror it wrote (remote gateway 127.0.141.2:4143) is named by no valid Link;
 * `kept`: the gateways still serve its last admitted routes, as their /routes says.
 */
function invalidatedByHand(f: CheckFacts, kept: boolean): void {
  links(f)[0]!.link = link('west', {
    spec: { gatewayAddress: '127.0.141.2:4143' },
    conditions: [
      {
        type: 'Ready',
        status: 'False',
        reason: 'LinkInvalid',
        message:
          'gatewayAddress: "127.0.141.2:4143" is neither an IP address nor a DNS name: give the address alone, and its port in gatewayPort',
      },
    ],
  });
  f.mirrors = { ok: true, value: [{ ...mirror('podinfo-west'), remoteGateway: '127.0.141.2:4143' }] };
  const reason =
    'remote gateway 127.0.141.2:4143 is not one the Link to cluster "west" names (spec.gatewayAddress and gatewayPort, or status.gatewayAddresses)';
  f.gatewayListeners = refusing(
    kept
      ? {
          mirror: 'test/podinfo-west',
          reason: `${reason}; its last admitted routes (to 127.0.141.2:4143) serve until the Link names it`,
          kept: true,
        }
      : { mirror: 'test/podinfo-west', reason },
  );
}

function refusing(claim: RefusedClaim): CheckFacts['gatewayListeners'] {
  return { ok: true, value: [{ pod: 'isthmus-gateway-a', ready: true, ports: [20000], refused: [claim] }] };
}

/**
 * `isthmus install` output goes through the real `kubectl apply -f` into a strict sandbox, and
 * `isthmus link` reads what install created (after the cloud controller's part) to print a Link
 * that the real `kubectl` applies in the other cluster — a first-time user's path, minus Docker.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { runControllerProcess } from '../src/cli/controller/run-controller-process.js';
import { writeCertificates } from '../src/identity/files.js';
import { KubeClient } from '../src/kube/client.js';
import { R } from '../src/kube/resources.js';
import { kubeconfigTokenClaims } from '../src/kube/service-account-token.js';
import type { Link, V1Secret, V1Service } from '../src/kube/types.js';
import { parseLinkSpec } from '../src/mirror/link-config.js';
import { DEFAULT_EGRESS_RANGE } from '../src/mirror/port-allocator.js';
import { mergeKubeconfigs, type Sandbox, startSandbox } from '../src/sandbox/index.js';
import { waitFor } from '../src/wait-for.js';
import { installArgs as installArgsIn } from './cli-run.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'isthmus-install-'));
const kubeconfig = join(dir, 'kubeconfig');
let east: Sandbox;
let west: Sandbox;

/** `isthmus link` of west, run against the merged kubeconfig. */
const LINK_WEST = ['link', '--kubeconfig', kubeconfig, '--context', 'west', '--cluster-name', 'west'];

function isthmus(args: string[]) {
  return run(process.execPath, ['bin/isthmus.mjs', ...args], { timeout: 60_000, maxBuffer: 16 << 20 });
}
function kubectl(args: string[], input?: string) {
  return new Promise<{ stdout: string; stderr: string }>((resolve, reject) => {
    const child = execFile(
      'kubectl',
      ['--kubeconfig', kubeconfig, ...args],
      { timeout: 60_000 },
      (err, stdout, stderr) =>
        err ? reject(Object.assign(err, { stdout, stderr })) : resolve({ stdout, stderr }),
    );
    child.stdin!.end(input ?? '');
  });
}

beforeAll(async () => {
  [east, west] = await Promise.all([
    startSandbox({ name: 'east' }),
    startSandbox({ name: 'west' }),
    writeCertificates({
      outDir: join(dir, 'certs'),
      clusters: ['east', 'west'],
      trustDomain: 'cluster.local',
    }),
  ]);
  writeFileSync(kubeconfig, mergeKubeconfigs([east, west]));
});

afterAll(async () => {
  await Promise.all([east?.close(), west?.close()]);
  rmSync(dir, { recursive: true, force: true });
});

/**
 * The test's own reads and writes: a client without the production rate limit (50 req/s), which
 * the test's polling would otherwise drain; the code under test keeps its own limits.
 */
function adminClient(sandbox: Sandbox): KubeClient {
  return KubeClient.fromKubeconfigString(sandbox.kubeconfig(), undefined, {
    rateLimit: { qps: 0, burst: 0 },
  });
}

/** A kubeconfig for west as `user`, whose token the sandbox grants only `rules`. */
function westUser(user: string, rules: { verbs: string[]; resources: string[] }[]): string {
  west.addToken(`${user}-token`, { username: user, rules });
  const path = join(dir, `${user}-kubeconfig`);
  writeFileSync(path, west.kubeconfig({ token: `${user}-token`, user, context: 'west' }));
  return path;
}

/** A client acting as one of the install's service accounts, with a token as kubelet would mount. */
async function serviceAccountClient(sandbox: Sandbox, account: string): Promise<KubeClient> {
  const { stdout } = await kubectl([
    '--context',
    sandbox.name,
    '-n',
    'isthmus-system',
    'create',
    'token',
    account,
  ]);
  return KubeClient.fromKubeconfigString(sandbox.kubeconfig({ token: stdout.trim(), user: account }));
}

/** `isthmus install` of `cluster` with the issuer files `isthmus certs` wrote for `issuer`. */
const installArgs = (cluster: string, issuer = cluster) => installArgsIn(join(dir, 'certs'), cluster, issuer);

/** A run expected to fail: its exit code and output (a success reads as code 0). */
function failure(args: string[]) {
  return isthmus(args).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (e: { stdout: string; stderr: string; code: number }) => e,
  );
}

/** `isthmus install` reads no cluster: its output, to apply with `apply`. */
function render(cluster: string, ...flags: string[]) {
  return isthmus([...installArgs(cluster), ...flags]).then(({ stdout }) => stdout);
}
function apply(cluster: string, manifests: string) {
  return kubectl(['--context', cluster, 'apply', '-f', '-'], manifests);
}

describe('install and link with the real kubectl', () => {
  it('applies every installed manifest without error, and again idempotently', async () => {
    // Each `isthmus install` is its own run (they read no cluster, so they run side by side); what
    // they print is applied in order.
    const [westFirst, westAgain, eastManifests, bad] = await Promise.all([
      render('west'),
      render('west'),
      render(
        'east',
        '--enable-namespace-creation',
        '--gateway-service-annotation',
        'service.beta.kubernetes.io/aws-load-balancer-type=nlb',
        '--gateway-load-balancer-source-ranges',
        '203.0.113.0/24,198.51.100.0/24',
        '--gateway-external-traffic-policy',
        'Local',
        '--gateway-node-port',
        '31443',
        '--network-policy',
        '--admin-allow-namespace',
        'monitoring',
        '--admin-allow-cidr',
        '192.0.2.10/32',
      ),
      // A value the API server would refuse stops install before anything is printed.
      isthmus([...installArgs('east'), '--gateway-load-balancer-source-ranges', '203.0.113.0/33']).catch(
        (e: { stdout: string; stderr: string; code: number }) => e,
      ),
    ]);
    const first = await apply('west', westFirst);
    expect(first.stdout).toMatch(/namespace\/isthmus-system created/);
    expect(first.stdout).toMatch(/deployment\.apps\/isthmus-gateway created/);
    expect(first.stdout).toMatch(/clusterrole\.rbac\.authorization\.k8s\.io\/isthmus-remote-access created/);
    const again = await apply('west', westAgain);
    expect(again.stdout).not.toMatch(/created/);
    expect(first.stdout).not.toMatch(/namespace-creation/);
    // East lets its controller create mirror namespaces (for Links with enableNamespaceCreation),
    // and exposes its gateway as on a cloud: an annotated, source-restricted load balancer.
    const eastApplied = await apply('east', eastManifests);
    expect(eastApplied.stdout).toMatch(
      /clusterrolebinding\.rbac\.authorization\.k8s\.io\/isthmus-controller-namespace-creation created/,
    );
    for (const component of ['gateway', 'identity', 'controller'])
      expect(eastApplied.stdout).toContain(`networkpolicy.networking.k8s.io/isthmus-${component} created`);
    const eastAdmin = adminClient(east);
    try {
      const gw = await eastAdmin.get<V1Service>(R.services, 'isthmus-system', 'isthmus-gateway');
      expect(gw?.metadata?.annotations).toMatchObject({
        'service.beta.kubernetes.io/aws-load-balancer-type': 'nlb',
      });
      expect(gw?.spec).toMatchObject({
        type: 'LoadBalancer',
        loadBalancerSourceRanges: ['203.0.113.0/24', '198.51.100.0/24'],
        externalTrafficPolicy: 'Local',
        ports: [{ name: 'ingress', port: 4143, nodePort: 31443 }],
      });
    } finally {
      eastAdmin.close();
    }
    expect(bad).toMatchObject({ code: 1, stdout: '' });
    expect((bad as { stderr: string }).stderr).toMatch(/"203.0.113.0\/33" is not a CIDR/);
  });

  it("refuses another cluster's issuer, whose certificates every gateway would refuse", async () => {
    const err = (await isthmus(installArgs('east', 'west')).catch((e: unknown) => e)) as {
      code?: number;
      stderr?: string;
      stdout?: string;
    };
    expect(err.code).not.toBe(0);
    expect(err.stdout).toBe('');
    expect(err.stderr).toContain(
      'issuer.crt: the issuer of cluster "west" (CN=identity.west.cluster.local), not of "east"',
    );
  });

  it('refuses to link while the gateway has no LoadBalancer address, with a clear message', async () => {
    const err = await isthmus(LINK_WEST).catch((e: { stderr: string; code: number }) => e);
    expect(err).toMatchObject({ code: 1 });
    expect((err as { stderr: string }).stderr).toMatch(/no LoadBalancer address yet/);
  });

  it('links east to west once the load balancer has an address; the token is read-only', async () => {
    const westAdmin = adminClient(west);
    const eastAdmin = adminClient(east);
    try {
      await westAdmin.patchStatus(
        R.services,
        'isthmus-system',
        'isthmus-gateway',
        { status: { loadBalancer: { ingress: [{ ip: '198.51.100.7' }] } } },
        'merge',
      );
      const { stdout } = await isthmus(LINK_WEST);
      await kubectl(['--context', 'east', 'apply', '-f', '-'], stdout);

      const link = await eastAdmin.get<Link>(R.links, 'isthmus-system', 'west');
      expect(link?.spec).toMatchObject({
        targetClusterName: 'west',
        gatewayAddress: '198.51.100.7',
        gatewayPort: 4143,
        gatewayIdentity: 'spiffe://cluster.local/cluster/west/gateway',
      });
      const secret = await eastAdmin.get<V1Secret>(
        R.secrets,
        'isthmus-system',
        link!.spec.clusterCredentialsSecret,
      );
      const remote = KubeClient.fromSecret(secret!);
      try {
        const services = await remote.list(R.services, { namespace: 'isthmus-system' });
        expect(services.items.map((s) => s.metadata?.name)).toContain('isthmus-gateway');
        await expect(remote.list(R.secrets, { namespace: 'isthmus-system' })).rejects.toMatchObject({
          code: 'KUBE_FORBIDDEN',
        });
        await expect(
          remote.create(R.services, {
            metadata: { name: 'x', namespace: 'default' },
            spec: { ports: [{ port: 80 }] },
          }),
        ).rejects.toMatchObject({ code: 'KUBE_FORBIDDEN' });
      } finally {
        remote.close();
      }
    } finally {
      westAdmin.close();
      eastAdmin.close();
    }
  });

  it('refuses a --cluster-name the remote install does not have, before printing or minting anything', async () => {
    const eastAdmin = adminClient(east);
    // The reviewer's mistake: east linked as west, which would overwrite east's good Link to west.
    const eastAsWest = ['link', '--kubeconfig', kubeconfig, '--context', 'east', '--cluster-name', 'west'];
    try {
      const writes = east.stats().writes;
      // Independent runs, side by side.
      const refusals = await Promise.all(
        [[], ['--no-gateway'], ['--gateway-addresses', '203.0.113.9'], ['--token-duration', '24h']].map(
          (extra) => failure([...eastAsWest, ...extra]),
        ),
      );
      for (const refused of refusals) {
        expect(refused).toMatchObject({ code: 1, stdout: '' });
        expect(refused.stderr).toContain(
          'the cluster behind context "east" is installed as "east" (label isthmus.dev/cluster-name on namespace isthmus-system), not "west": was --context wrong?',
        );
      }
      expect(east.stats().writes).toBe(writes); // no TokenRequest either
      // The good Link to west is what east still has.
      expect((await eastAdmin.get<Link>(R.links, 'isthmus-system', 'west'))?.spec.gatewayAddress).toBe(
        '198.51.100.7',
      );

      // An install from before the label cannot say: link goes ahead.
      await eastAdmin.patch(R.namespaces, undefined, 'isthmus-system', {
        metadata: { labels: { 'isthmus.dev/cluster-name': null } },
      });
      try {
        const unlabelled = await isthmus([...eastAsWest, '--no-gateway']);
        expect(unlabelled.stdout).toContain('kind: Link');
      } finally {
        await eastAdmin.patch(R.namespaces, undefined, 'isthmus-system', {
          metadata: { labels: { 'isthmus.dev/cluster-name': 'east' } },
        });
      }

      // A user who may not read the namespace links, told that the name went unchecked.
      const linkerConfig = westUser('linker', [{ verbs: ['get'], resources: ['services', 'secrets'] }]);
      const unchecked = await isthmus([
        'link',
        '--kubeconfig',
        linkerConfig,
        '--context',
        'west',
        '--cluster-name',
        'west',
      ]);
      expect(unchecked.stdout).toContain('kind: Link');
      expect(unchecked.stderr).toMatch(
        /^note: could not read namespace isthmus-system behind context "west" \(forbidden\), so --cluster-name west was not checked/m,
      );
    } finally {
      eastAdmin.close();
    }
  });

  it('allow: a read-only account per linking cluster, revoked alone by deleting it', async () => {
    const westAdmin = adminClient(west);
    const eastAdmin = adminClient(east);
    const clients: KubeClient[] = [];
    try {
      const allowArgs = (name: string) => [
        'allow',
        '--kubeconfig',
        kubeconfig,
        '--context',
        'west',
        '--service-account-name',
        name,
      ];
      const allow = (name: string) => isthmus(allowArgs(name));
      const allowed = await allow('east-reader');
      await kubectl(['--context', 'west', 'apply', '-f', '-'], allowed.stdout);
      // Re-runnable: the account it made is its own to update.
      const again = await allow('east-reader');
      expect((await kubectl(['--context', 'west', 'apply', '-f', '-'], again.stdout)).stdout).not.toMatch(
        /created/,
      );
      const { stdout } = await isthmus([...LINK_WEST, '--service-account-name', 'east-reader']);
      const link = parseAllDocuments(stdout)
        .map((d) => d.toJS() as V1Secret)
        .find((o) => o.kind === 'Secret')!;
      const perPeer = KubeClient.fromSecret(link);
      const shared = KubeClient.fromSecret(
        (await eastAdmin.get<V1Secret>(R.secrets, 'isthmus-system', 'cluster-credentials-west'))!,
      );
      clients.push(perPeer, shared);
      // Read-only like the install's shared account: services yes, secrets no.
      expect((await perPeer.list(R.services, { namespace: 'isthmus-system' })).items.length).toBeGreaterThan(
        0,
      );
      await expect(perPeer.list(R.secrets, { namespace: 'isthmus-system' })).rejects.toMatchObject({
        code: 'KUBE_FORBIDDEN',
      });
      // Deleting east's account revokes east's token only: the shared one still works.
      await westAdmin.delete(R.serviceAccounts, 'isthmus-system', 'east-reader');
      await expect(perPeer.list(R.services, { namespace: 'isthmus-system' })).rejects.toMatchObject({
        code: 'KUBE_UNAUTHORIZED',
      });
      expect((await shared.list(R.services, { namespace: 'isthmus-system' })).items.length).toBeGreaterThan(
        0,
      );
      // Clear errors: a name that is not one, and a link to an account that was never allowed.
      // Never the install's own accounts: the controller's may write Services cluster-wide, and
      // deleting it later "to revoke a peer" would stop the controller. Nor anyone else's account in
      // the namespace: allow would relabel and bind it. (Independent runs, side by side; none writes.)
      await westAdmin.create(R.serviceAccounts, {
        metadata: { name: 'ci-bot', namespace: 'isthmus-system' },
      });
      const names = ['ci-bot', 'default'];
      const writes = west.stats().writes;
      const [badName, missing, ownAllow, ownLink, ...foreigners] = await Promise.all([
        failure(allowArgs('East_1')),
        failure([...LINK_WEST, '--service-account-name', 'north-reader']),
        failure(allowArgs('isthmus-controller')),
        failure([...LINK_WEST, '--service-account-name', 'isthmus-controller', '--token-duration', '24h']),
        ...names.map((name) => failure(allowArgs(name))),
      ]);
      expect(badName).toMatchObject({ code: 1 });
      for (const refused of [ownAllow!, ownLink!]) {
        expect(refused).toMatchObject({ code: 1, stdout: '' });
        expect(refused.stderr).toMatch(
          /--service-account-name isthmus-controller is the install's own account: the isthmus-controller pods run as it.*isthmus allow --service-account-name <a new name>/,
        );
      }
      expect(west.stats().writes).toBe(writes); // no token minted for the controller
      for (const [i, foreign] of foreigners.entries()) {
        expect(foreign).toMatchObject({ code: 1, stdout: '' });
        expect(foreign.stderr).toContain(
          `isthmus-system/${names[i]} exists and was not made by isthmus allow`,
        );
      }
      expect(missing!.stderr).toMatch(
        /no token in isthmus-system\/north-reader-token yet: did `isthmus allow --service-account-name north-reader` run there/,
      );
    } finally {
      for (const c of clients) c.close();
      westAdmin.close();
      eastAdmin.close();
    }
  });

  it('--token-duration: the Link carries a bound token that works until it expires, and says when', async () => {
    const westAdmin = adminClient(west);
    const clients: KubeClient[] = [];
    try {
      // Refused with a reason: a lifetime TokenRequest would refuse (before anything is read), an
      // account that is not there, and a user who may not mint tokens. Independent of the first
      // run, whose token they leave alone (nor do they mint any): all side by side.
      const viewerConfig = westUser('viewer', [
        { verbs: ['get', 'list'], resources: ['services', 'namespaces', 'secrets'] },
      ]);
      const [{ stdout, stderr }, short, missing, forbidden] = await Promise.all([
        isthmus([...LINK_WEST, '--token-duration', '2160h']),
        failure([...LINK_WEST, '--token-duration', '5m']),
        failure([...LINK_WEST, '--token-duration', '24h', '--service-account-name', 'north-reader']),
        failure([
          'link',
          '--kubeconfig',
          viewerConfig,
          '--context',
          'west',
          '--cluster-name',
          'west',
          '--token-duration',
          '24h',
        ]),
      ]);
      const secret = parseAllDocuments(stdout)
        .map((d) => d.toJS() as V1Secret)
        .find((o) => o.kind === 'Secret')!;
      const claims = kubeconfigTokenClaims(Buffer.from(secret.data!.kubeconfig!, 'base64').toString('utf8'));
      expect(claims?.account).toBe('isthmus-remote-access');
      expect(claims!.expiresAt!.getTime() - claims!.notBefore!.getTime()).toBe(2160 * 3_600_000);
      const at = claims!.expiresAt!.toISOString().replace('.000Z', 'Z');
      expect(stderr).toContain(`note: the Link's token expires at ${at}. Before then, re-run this`);
      // The same read-only rights as the Secret token.
      const remote = KubeClient.fromSecret(secret);
      clients.push(remote);
      expect((await remote.list(R.services, { namespace: 'isthmus-system' })).items.length).toBeGreaterThan(
        0,
      );
      await expect(remote.list(R.secrets, { namespace: 'isthmus-system' })).rejects.toMatchObject({
        code: 'KUBE_FORBIDDEN',
      });
      west.faults.expireBoundTokens();
      await expect(remote.list(R.services, { namespace: 'isthmus-system' })).rejects.toMatchObject({
        code: 'KUBE_UNAUTHORIZED',
      });

      // The refusals, each with its reason.
      expect(short).toMatchObject({ code: 1 });
      expect(short.stderr).toMatch(/--token-duration "5m": expected a duration from 10m/);
      expect(missing.stderr).toMatch(
        /cluster west has no ServiceAccount isthmus-system\/north-reader: did `isthmus allow --service-account-name north-reader` run there\?/,
      );
      expect(forbidden.stderr).toMatch(
        /--token-duration: you may not create serviceaccounts\/token for isthmus-system\/isthmus-remote-access in cluster west .*link without --token-duration/,
      );
      // The account's Secret token is unaffected by all of this.
      const plain = await isthmus(LINK_WEST);
      const legacy = parseAllDocuments(plain.stdout)
        .map((d) => d.toJS() as V1Secret)
        .find((o) => o.kind === 'Secret')!;
      expect(
        kubeconfigTokenClaims(Buffer.from(legacy.data!.kubeconfig!, 'base64').toString('utf8'))?.expiresAt,
      ).toBeUndefined();
      const legacyClient = KubeClient.fromSecret(legacy);
      clients.push(legacyClient);
      expect(
        (await legacyClient.list(R.services, { namespace: 'isthmus-system' })).items.length,
      ).toBeGreaterThan(0);
    } finally {
      for (const c of clients) c.close();
      westAdmin.close();
    }
  });

  it('carries the Link flags into the applied Link, and refuses a bad one before reading the remote', async () => {
    const eastAdmin = adminClient(east);
    try {
      // `isthmus link` only reads west: its runs go side by side, what they print is applied in order.
      const [{ stdout }, flat, mixed, loose, err] = await Promise.all([
        isthmus([
          ...LINK_WEST,
          '--selector',
          'mirror.linkerd.io/exported=true,tier!=internal',
          '--excluded-labels',
          'team.example.com/*',
          '--mirror-headless',
          '--enable-namespace-creation',
          '--federated-service-selector',
          'mirror.linkerd.io/federated=member,tier in (web)',
          '--remote-discovery-selector',
          'mirror.linkerd.io/exported=remote-discovery,!legacy',
          '--probe-period',
          '10s',
          '--probe-failure-threshold',
          '5',
        ]),
        isthmus([...LINK_WEST, '--no-gateway']),
        isthmus([...LINK_WEST, '--no-gateway', '--selector', 'a=b']).catch(
          (e: { stderr: string; code: number }) => e,
        ),
        isthmus([...LINK_WEST, '--selector', 'app=podinfo']),
        isthmus([...LINK_WEST, '--kubeconfig', '/nonexistent', '--selector', 'replicas>2']).catch(
          (e: { stdout: string; stderr: string; code: number }) => e,
        ),
      ]);
      // kubectl apply through the sandbox's CRD schema: the converted selector is a valid LabelSelector.
      await kubectl(['--context', 'east', 'apply', '-f', '-'], stdout);
      const link = await eastAdmin.get<Link>(R.links, 'isthmus-system', 'west');
      expect(link?.spec).toMatchObject({
        selector: {
          matchLabels: { 'mirror.linkerd.io/exported': 'true' },
          matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['internal'] }],
        },
        excludedLabels: ['team.example.com/*'],
        mirrorHeadless: true,
        enableNamespaceCreation: true,
        federatedServiceSelector: {
          matchLabels: { 'mirror.linkerd.io/federated': 'member' },
          matchExpressions: [{ key: 'tier', operator: 'In', values: ['web'] }],
        },
        remoteDiscoverySelector: {
          matchLabels: { 'mirror.linkerd.io/exported': 'remote-discovery' },
          matchExpressions: [{ key: 'legacy', operator: 'DoesNotExist' }],
        },
        probeSpec: { period: '10s', timeout: '2s', failureThreshold: 5 },
      });

      // --no-gateway: a Link the CRD schema and the controller accept without any gateway field.
      await kubectl(['--context', 'east', 'apply', '-f', '-'], flat.stdout);
      const flatLink = await eastAdmin.get<Link>(R.links, 'isthmus-system', 'west');
      expect(flatLink?.spec).not.toHaveProperty('gatewayAddress');
      expect(flatLink?.spec).not.toHaveProperty('probeSpec');
      expect(parseLinkSpec(flatLink!)).toMatchObject({ ok: true, config: { hasGateway: false } });
      expect(mixed).toMatchObject({ code: 1 });
      expect((mixed as { stderr: string }).stderr).toMatch(/--no-gateway cannot be combined with --selector/);

      // A selector the remote gateway would not admit everything of: said on stderr, the Link still printed.
      expect(loose.stderr).toMatch(
        /^note: --selector does not require mirror\.linkerd\.io\/exported=true or /m,
      );
      expect(loose.stdout).toContain('kind: Link');

      expect(err).toMatchObject({ code: 1, stdout: '' });
      expect((err as { stderr: string }).stderr).toMatch(
        /replicas > … is not supported in a Link's label selector/,
      );
    } finally {
      eastAdmin.close();
    }
  });

  it('uninstalls: refuses while a Link or a TrafficSplit would be lost, then kubectl delete leaves nothing', async () => {
    const eastAdmin = adminClient(east);
    let controller: { stop(): Promise<void> } | undefined;
    const uninstall = (...flags: string[]) =>
      isthmus(['uninstall', '--kubeconfig', kubeconfig, '--context', 'east', ...flags]);
    const refusal = (p: Promise<unknown>) =>
      p.then(
        () => ({ code: 0, stdout: '', stderr: '' }),
        (e: { stdout: string; stderr: string; code: number }) => e,
      );
    try {
      const withLink = await refusal(uninstall());
      expect(withLink).toMatchObject({ code: 1, stdout: '' });
      expect(withLink.stderr).toMatch(
        /Link isthmus-system\/west remains: unlink it first \(isthmus unlink --cluster-name west --wait\)/,
      );
      await isthmus(['unlink', '--kubeconfig', kubeconfig, '--context', 'east', '--cluster-name', 'west']);

      // The user's TrafficSplit would go with the CRD; a mirror no controller removed is ours.
      await eastAdmin.create(R.namespaces, { metadata: { name: 'test' } });
      await eastAdmin.create(R.trafficSplitsV1alpha2, {
        metadata: { name: 'podinfo', namespace: 'test' },
        spec: { service: 'podinfo', backends: [{ service: 'podinfo', weight: 1 }] },
      });
      await eastAdmin.create(R.services, {
        metadata: {
          name: 'api-north',
          namespace: 'test',
          labels: {
            'mirror.linkerd.io/mirrored-service': 'true',
            'mirror.linkerd.io/cluster-name': 'north',
            'isthmus.dev/mirror': 'north',
          },
        },
        spec: { ports: [{ port: 80 }] },
      });
      const withSplit = await refusal(uninstall());
      expect(withSplit).toMatchObject({ code: 1, stdout: '' });
      expect(withSplit.stderr).toMatch(
        /1 TrafficSplit\(s\) \(test\/podinfo\) would be deleted with the TrafficSplit CRD/,
      );
      await eastAdmin.delete(R.trafficSplitsV1alpha2, 'test', 'podinfo');
      const whileDown = await uninstall();
      expect(whileDown.stderr).toMatch(/also deleting 1 mirror, failover or federation object\(s\)/);
      expect(whileDown.stdout).toMatch(/kind: Service\nmetadata:\n {2}name: api-north\n/);

      // The controller runs as its own account under the installed RBAC, and keeps running while
      // kubectl deletes, as its pod does (kubectl delete waits for no pod). Started, it sweeps the
      // mirror of a cluster no Link names, and writes a federated Service for a local member, with
      // the slice it owns (ownerReference to the Service).
      controller = await runControllerProcess({
        cluster: 'east',
        client: await serviceAccountClient(east, 'isthmus-controller'),
        gatewayAdminUrl: 'http://127.0.0.1:1',
        egressPortRange: DEFAULT_EGRESS_RANGE,
        failoverControlledBy: 'linkerd-failover',
        leaderElect: false,
        admin: { host: '127.0.0.1', port: 0 },
        logLevel: 'silent',
      });
      await eastAdmin.create(R.services, {
        metadata: { name: 'cart', namespace: 'test', labels: { 'mirror.linkerd.io/federated': 'member' } },
        spec: { selector: { app: 'cart' }, ports: [{ name: 'http', port: 80 }] },
      });
      await eastAdmin.create(R.endpointSlices, {
        metadata: { name: 'cart-1', namespace: 'test', labels: { 'kubernetes.io/service-name': 'cart' } },
        addressType: 'IPv4',
        endpoints: [{ addresses: ['10.244.0.12'], conditions: { ready: true } }],
        ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      });
      const federatedSlices = () =>
        eastAdmin.list(R.endpointSlices, {
          namespace: 'test',
          labelSelector: 'kubernetes.io/service-name=cart-federated',
        });
      await waitFor(
        'the mirror swept, cart-federated and its slice written by the controller',
        async () =>
          (await eastAdmin.get(R.services, 'test', 'api-north')) === undefined &&
          (await federatedSlices()).items.length > 0,
        10_000,
      );

      const { stdout, stderr } = await uninstall();
      expect(stderr).toMatch(/also deleting 2 mirror, failover or federation object\(s\)/);
      // One `kubectl delete -f -` exits 0: nothing it lists is already gone with its owner.
      // --wait=false: kubectl's wait for each object to be gone is a GET per object at its own
      // rate limit (~5 s here); the test waits instead, below, for what is not gone at once.
      const deleted = await kubectl(['--context', 'east', 'delete', '--wait=false', '-f', '-'], stdout);
      expect(deleted.stdout).toMatch(/deployment\.apps "isthmus-gateway" deleted/);
      expect(deleted.stdout).toMatch(
        /clusterrole\.rbac\.authorization\.k8s\.io "isthmus-controller-namespace-creation" deleted/,
      );
      expect(deleted.stdout).toMatch(/networkpolicy\.networking\.k8s\.io "isthmus-gateway" deleted/);
      expect(deleted.stdout).toMatch(/namespace "isthmus-system" deleted/);
      // What kubectl's wait waited for: the objects that finalizers hold (the namespace, the CRDs).
      await waitFor(
        'isthmus-system and the CRDs deleted',
        async () =>
          (await eastAdmin.get(R.namespaces, undefined, 'isthmus-system')) === undefined &&
          (await eastAdmin.list(R.crds, { labelSelector: 'app.kubernetes.io/part-of=isthmus' })).items
            .length === 0,
        10_000,
      );

      // Nothing of Isthmus is left: no labelled cluster object, no CRD, no mirror, no namespace.
      const leftover = await kubectl([
        '--context',
        'east',
        'get',
        'clusterroles,clusterrolebindings,customresourcedefinitions,services',
        '-A',
        '-l',
        'app.kubernetes.io/part-of=isthmus',
        '-o',
        'name',
      ]);
      expect(leftover.stdout).toBe('');
      expect(await eastAdmin.get(R.services, 'test', 'api-north')).toBeUndefined();
      // The controller, still running, could not put back what was deleted after its rights went.
      expect(await eastAdmin.get(R.services, 'test', 'cart-federated')).toBeUndefined();
      expect((await federatedSlices()).items).toEqual([]);
      await waitFor(
        'isthmus-system deleted',
        async () => (await eastAdmin.get(R.namespaces, undefined, 'isthmus-system')) === undefined,
        10_000,
      );
      // Run again, it finds nothing left to print. And check says once that nothing is installed,
      // rather than failing every check. (Both only read: side by side.)
      const [again, checked] = await Promise.all([
        uninstall(),
        failure(['check', '--kubeconfig', kubeconfig, '--context', 'east']),
      ]);
      expect(again.stdout).toBe('');
      expect(checked.code).toBe(1);
      expect(checked.stdout.split('\n')).toEqual([
        'isthmus multicluster',
        '--------------------',
        '× Isthmus is installed in this cluster',
        expect.stringMatching(
          /^ {4}Isthmus is not installed in this cluster: no namespace isthmus-system, no CRD links\.multicluster\.isthmus\.dev or trafficsplits\.split\.smi-spec\.io, no Deployment isthmus-identity, isthmus-gateway or isthmus-controller; install it with `isthmus install /,
        ),
        '',
        'Status check results are ×',
        '',
      ]);
    } finally {
      await controller?.stop();
      eastAdmin.close();
    }
  });
});

import type { Command } from 'commander';
// The audit log (serial, notAfter, caller): without gRPC, so it is subscribed before the service loads.
import { logCertifyOutcomes } from '../../identity/certify-log.js';
import type { CrlFollower } from '../../identity/crl-follow.js';
import { DEFAULT_CLUSTER_DOMAIN, IDENTITY_SERVICE_NAME, PORTS, SYSTEM_NAMESPACE } from '../../kube/keys.js';
import {
  addClusterFlag,
  addKubeFlags,
  type ClusterFlags,
  type KubeFlags,
  kubeClientFromFlags,
  parseDurationFlag,
  parseListen,
} from '../common-flags.js';
import { waitForShutdown } from '../shutdown.js';

interface IdentityFlags extends KubeFlags, ClusterFlags {
  trustDomain: string;
  listen: string;
  healthListen: string;
  adminListen: string;
  serviceName: string;
  serviceNamespace: string;
  clusterDomain: string;
  servingCertLifetime: string;
  issuerCert: string;
  issuerKey: string;
  trustAnchor: string;
  certLifetime: string;
  issuerCheckInterval: string;
  crlFile?: string;
}

export function registerIdentity(program: Command): void {
  addKubeFlags(
    addClusterFlag(
      program
        .command('identity')
        .description(
          'Run the identity service: signs gateway CSRs (gRPC Certify, over TLS) after a TokenReview',
        ),
    )
      .option('--trust-domain <domain>', 'SPIFFE trust domain of the identities it signs', 'cluster.local')
      .option(
        '--listen <host:port>',
        'Certify, gRPC over TLS (no host: every interface, IPv4 and IPv6)',
        `:${PORTS.identity}`,
      )
      .option(
        '--health-listen <host:port>',
        "plaintext grpc.health.v1 for the kubelet's gRPC probes, which speak no TLS",
        `:${PORTS.identityHealth}`,
      )
      .option(
        '--admin-listen <host:port>',
        'HTTP admin: /metrics (Prometheus), /live, /ready (503 while the issuer is outside its validity)',
        `:${PORTS.identityAdmin}`,
      )
      .option(
        '--service-name <name>',
        "the identity Service: its names are the serving certificate's DNS SANs",
        IDENTITY_SERVICE_NAME,
      )
      .option('--service-namespace <namespace>', "the identity Service's namespace", SYSTEM_NAMESPACE)
      .option('--cluster-domain <domain>', "the cluster's DNS domain", DEFAULT_CLUSTER_DOMAIN)
      .option(
        '--serving-cert-lifetime <duration>',
        'lifetime of the TLS certificate Certify is served with, minted from the issuer (renewed at ~70%, and when the issuer is reloaded)',
        '24h',
      )
      .requiredOption('--issuer-cert <file>', 'issuer certificate')
      .requiredOption('--issuer-key <file>', 'issuer key (it never leaves this process)')
      .requiredOption('--trust-anchor <file>', 'trust anchor certificate')
      .option('--cert-lifetime <duration>', 'lifetime of issued gateway certificates', '24h')
      .option(
        '--crl-file <path>',
        "PEM bundle of CRLs (isthmus certs revoke), the gateways' own: a serving certificate it revokes is replaced at once; re-read when it changes, absent: nothing revoked",
      )
      .option(
        '--issuer-check-interval <duration>',
        'how often the issuer, anchor and CRL files are checked for an update (a Secret or ConfigMap update)',
        '10s',
      ),
  ).action(async (flags: IdentityFlags) => {
    const listen = parseListen(flags.listen, '--listen');
    const healthListen = parseListen(flags.healthListen, '--health-listen');
    const adminListen = parseListen(flags.adminListen, '--admin-listen');
    const lifetimeMs = parseDurationFlag(flags.certLifetime, '--cert-lifetime');
    const servingLifetimeMs = parseDurationFlag(flags.servingCertLifetime, '--serving-cert-lifetime');
    const checkIntervalMs = parseDurationFlag(flags.issuerCheckInterval, '--issuer-check-interval');
    const log = (line: string, error = false) => (error ? process.stderr : process.stdout).write(`${line}\n`);
    const { watchIssuer } = await import('../../identity/issuer-watch.js');
    const { certificateInfo } = await import('../../identity/certificate-info.js');
    const { normaliseSerial } = await import('../../identity/crl.js');
    const { startIdentityServer } = await import('../../identity/certify-service.js');
    const { createTokenReviewer } = await import('../../kube/token-review.js');
    const { identityDnsNames } = await import('../../identity/serving-cert.js');
    const { identityServiceId } = await import('../../identity/spiffe.js');
    const { defaultIdentityRules } = await import('../../identity/identity-policy.js');
    const { createIdentityMetrics } = await import('../../identity/identity-metrics.js');
    const { issuerWindowProblem } = await import('../../identity/ca.js');
    const { startAdminServer } = await import('../controller/admin-server.js');
    const describe = (certPem: string) => {
      const info = certificateInfo(certPem);
      // Lowercase hex, as the audit log and `isthmus certs revoke --serial` write serials.
      return `${info.subject}, serial ${normaliseSerial(info.serialNumber)}, valid until ${info.notAfter.toISOString()}`;
    };
    // Declared before the watches whose callbacks use them: a reload may come while starting.
    let server: Awaited<ReturnType<typeof startIdentityServer>> | undefined;
    let crl: CrlFollower | undefined;
    const issuer = await watchIssuer({
      anchorFile: flags.trustAnchor,
      certFile: flags.issuerCert,
      keyFile: flags.issuerKey,
      scope: { cluster: flags.cluster, trustDomain: flags.trustDomain },
      intervalMs: checkIntervalMs,
      onChange: (next) => {
        process.stdout.write(`identity: issuer reloaded: ${describe(next.certPem)}\n`);
        // Serve with a certificate of the new issuer too: the old one may be on its way out. Then
        // hold it to the CRL, which may revoke the new issuer as well.
        void server?.renewServingCertificate().then(() => crl?.recheck());
      },
      onError: (err) =>
        process.stderr.write(
          `identity: issuer update refused, the issuer in force keeps signing: ${err.message}\n`,
        ),
      // An expired extra anchor of the bundle: harmless, but a rotation left unfinished (validate.ts).
      onWarning: (w) => log(`identity: warning: ${w}`, true),
    });
    process.stdout.write(`identity: issuer ${describe(issuer.current().certPem)}\n`);
    // The gateways' CRL: loaded before serving; a file it cannot use is logged, not fatal (crl-follow.ts).
    const { followCrl } = await import('../../identity/crl-follow.js');
    crl =
      flags.crlFile === undefined
        ? undefined
        : await followCrl({
            file: flags.crlFile,
            // Read at each load and check: the anchor a rotation brings is followed like the issuer.
            anchorPem: issuer.anchorPem,
            intervalMs: checkIntervalMs,
            log,
          });
    const client = await kubeClientFromFlags(flags);
    const served = (c: { serial: string; notAfter: Date }) =>
      `serial=${c.serial} notAfter=${c.notAfter.toISOString()}`;
    const rules = defaultIdentityRules(flags.trustDomain, flags.cluster);
    // Subscribed before the first call can come; what is in force is read at each scrape.
    const follower = crl;
    const metrics = createIdentityMetrics({
      processMetrics: true,
      identities: rules.map((r) => r.identity),
      certificates: {
        issuer: () => issuer.current().certPem,
        serving: () => server?.servingCertificate().certPem,
      },
      issuerRefused: issuer.refused,
      ...(follower
        ? { crl: () => ({ refused: follower.refused(), revoked: follower.crl.current().size() }) }
        : {}),
    });
    server = await startIdentityServer({
      issuer: issuer.current,
      trustDomain: flags.trustDomain,
      cluster: flags.cluster,
      rules,
      reviewer: createTokenReviewer(client),
      requireJwt: true,
      lifetimeMs,
      host: listen.host,
      port: listen.port,
      serving: {
        dnsNames: identityDnsNames({
          serviceName: flags.serviceName,
          namespace: flags.serviceNamespace,
          clusterDomain: flags.clusterDomain,
        }),
        lifetimeMs: servingLifetimeMs,
        onRenewed: (c) => process.stdout.write(`identity: serving certificate renewed: ${served(c)}\n`),
        onError: (err) =>
          process.stderr.write(
            `identity: serving certificate renewal failed, the one in force keeps serving: ${err.message}\n`,
          ),
      },
      health: { host: healthListen.host, port: healthListen.port },
    });
    process.stdout.write(
      `identity: serving Certify on ${listen.host}:${server.port} over TLS as ${identityServiceId(flags.trustDomain, flags.cluster)} ${served(server.servingCertificate())}\n`,
    );
    // An issuer reload while the server was starting found no server to renew: catch up now.
    const { splitPem } = await import('../../identity/pem.js');
    if (splitPem(server.servingCertificate().chainPem).at(-1) !== splitPem(issuer.current().certPem)[0])
      void server.renewServingCertificate();
    process.stdout.write(
      `identity: serving health (plaintext) on ${healthListen.host}:${server.healthPort}\n`,
    );
    // A revoked issuer at start is reported; anything else the CRL revokes is replaced from now on.
    await crl?.serve({ issuer: issuer.current, server });
    // Not ready while the issuer signs nothing (Certify answers FAILED_PRECONDITION): its renewal never came.
    const admin = await startAdminServer({
      ...adminListen,
      registry: metrics.registry,
      ready: () => issuerWindowProblem(certificateInfo(issuer.current().certPem), Date.now()) ?? null,
    });
    process.stdout.write(
      `identity: serving admin (/metrics, /live, /ready) on ${adminListen.host}:${admin.port}\n`,
    );
    const stopLog = logCertifyOutcomes();
    await waitForShutdown();
    await admin.close();
    metrics.close();
    stopLog();
    crl?.stop();
    issuer.stop();
    await server.close();
    client.close();
  });
}

import type { Command } from 'commander';
// The audit log (serial, notAfter, caller): without gRPC, so it is subscribed before the service loads.
import { logCertifyOutcomes } from '../../identity/certify-log.js';
import { PORTS } from '../../kube/keys.js';
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
  issuerCert: string;
  issuerKey: string;
  trustAnchor: string;
  certLifetime: string;
  issuerCheckInterval: string;
}

export function registerIdentity(program: Command): void {
  addKubeFlags(
    addClusterFlag(
      program
        .command('identity')
        .description('Run the identity service: signs gateway CSRs (gRPC Certify) after a TokenReview'),
    )
      .option('--trust-domain <domain>', 'SPIFFE trust domain of the identities it signs', 'cluster.local')
      .option(
        '--listen <host:port>',
        'gRPC address (plaintext, cluster-internal; no host: every interface, IPv4 and IPv6)',
        `:${PORTS.identity}`,
      )
      .requiredOption('--issuer-cert <file>', 'issuer certificate')
      .requiredOption('--issuer-key <file>', 'issuer key (it never leaves this process)')
      .requiredOption('--trust-anchor <file>', 'trust anchor certificate')
      .option('--cert-lifetime <duration>', 'lifetime of issued gateway certificates', '24h')
      .option(
        '--issuer-check-interval <duration>',
        'how often the issuer and anchor files are checked for a renewal (a Secret or ConfigMap update)',
        '10s',
      ),
  ).action(async (flags: IdentityFlags) => {
    const listen = parseListen(flags.listen, '--listen');
    const lifetimeMs = parseDurationFlag(flags.certLifetime, '--cert-lifetime');
    const { watchIssuer } = await import('../../identity/issuer-watch.js');
    const { certificateInfo } = await import('../../identity/certificate-info.js');
    const { startIdentityServer } = await import('../../identity/certify-service.js');
    const { createTokenReviewer } = await import('../../kube/token-review.js');
    const describe = (certPem: string) => {
      const info = certificateInfo(certPem);
      return `${info.subject}, serial ${info.serialNumber}, valid until ${info.notAfter.toISOString()}`;
    };
    const issuer = await watchIssuer({
      anchorFile: flags.trustAnchor,
      certFile: flags.issuerCert,
      keyFile: flags.issuerKey,
      scope: { cluster: flags.cluster, trustDomain: flags.trustDomain },
      intervalMs: parseDurationFlag(flags.issuerCheckInterval, '--issuer-check-interval'),
      onChange: (next) => process.stdout.write(`identity: issuer reloaded: ${describe(next.certPem)}\n`),
      onError: (err) =>
        process.stderr.write(
          `identity: issuer update refused, the issuer in force keeps signing: ${err.message}\n`,
        ),
    });
    process.stdout.write(`identity: issuer ${describe(issuer.current().certPem)}\n`);
    const client = await kubeClientFromFlags(flags);
    const server = await startIdentityServer({
      issuer: issuer.current,
      trustDomain: flags.trustDomain,
      cluster: flags.cluster,
      reviewer: createTokenReviewer(client),
      lifetimeMs,
      host: listen.host,
      port: listen.port,
    });
    process.stdout.write(`identity: serving Certify on ${listen.host}:${server.port}\n`);
    const stopLog = logCertifyOutcomes();
    await waitForShutdown();
    stopLog();
    issuer.stop();
    await server.close();
    client.close();
  });
}

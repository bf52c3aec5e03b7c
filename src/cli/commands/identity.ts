import type { Command } from 'commander';
import { PORTS } from '../../kube/keys.js';
import {
  addClusterFlags,
  addKubeFlags,
  type ClusterFlags,
  type KubeFlags,
  kubeClientFromFlags,
  parseDurationFlag,
  parseListen,
} from '../common-flags.js';
import { waitForShutdown } from '../shutdown.js';

interface IdentityFlags extends KubeFlags, ClusterFlags {
  listen: string;
  issuerCert: string;
  issuerKey: string;
  trustAnchor: string;
  certLifetime: string;
}

export function registerIdentity(program: Command): void {
  addKubeFlags(
    addClusterFlags(
      program
        .command('identity')
        .description('Run the identity service: signs gateway CSRs (gRPC Certify) after a TokenReview'),
    )
      .option(
        '--listen <host:port>',
        'gRPC address (plaintext, cluster-internal)',
        `0.0.0.0:${PORTS.identity}`,
      )
      .requiredOption('--issuer-cert <file>', 'issuer certificate')
      .requiredOption('--issuer-key <file>', 'issuer key (it never leaves this process)')
      .requiredOption('--trust-anchor <file>', 'trust anchor certificate')
      .option('--cert-lifetime <duration>', 'lifetime of issued gateway certificates', '24h'),
  ).action(async (flags: IdentityFlags) => {
    const listen = parseListen(flags.listen, '--listen');
    const lifetimeMs = parseDurationFlag(flags.certLifetime, '--cert-lifetime');
    const { loadIssuer } = await import('../../identity/files.js');
    const { startIdentityServer } = await import('../../identity/certify-service.js');
    const { createTokenReviewer } = await import('../../kube/token-review.js');
    const { issuer } = await loadIssuer({
      anchorFile: flags.trustAnchor,
      certFile: flags.issuerCert,
      keyFile: flags.issuerKey,
    });
    const client = await kubeClientFromFlags(flags);
    const server = await startIdentityServer({
      issuer,
      trustDomain: flags.trustDomain,
      cluster: flags.cluster,
      reviewer: createTokenReviewer(client),
      lifetimeMs,
      host: listen.host,
      port: listen.port,
    });
    process.stdout.write(`identity: serving Certify on ${listen.host}:${server.port}\n`);
    await waitForShutdown();
    await server.close();
    client.close();
  });
}

import type { Command } from 'commander';
import type { V1Namespace, V1Service } from '../../kube/types.js';
import type { LinkFlagValues } from '../link/options.js';

interface LinkFlags extends LinkFlagValues {
  context: string;
  kubeconfig?: string;
  clusterName: string;
  trustDomain: string;
  clusterDomain: string;
  apiServerAddress?: string;
  gatewayAddresses?: string;
  serviceAccountName?: string;
  tokenDuration?: string;
}

export function registerLink(program: Command): void {
  program
    .command('link')
    .description(
      'Read a remote cluster and print what to apply in the local cluster: the credentials Secret, the Role and RoleBinding that let the controller read it, and the Link',
    )
    .requiredOption('--context <name>', 'kubeconfig context of the REMOTE cluster')
    .requiredOption('--cluster-name <name>', 'name of the remote cluster (mirrors are called <svc>-<name>)')
    .option(
      '--kubeconfig <path>',
      'kubeconfig file (default: $KUBECONFIG, its files merged as kubectl merges them, else ~/.kube/config)',
    )
    .option('--trust-domain <domain>', 'SPIFFE trust domain', 'cluster.local')
    .option('--cluster-domain <domain>', 'DNS domain of the remote cluster', 'cluster.local')
    .option(
      '--api-server-address <url>',
      "remote API server URL as seen from the local cluster (default: the context's)",
    )
    .option(
      '--service-account-name <name>',
      "the remote read-only account whose token the Link uses, made by `isthmus allow` there (default: the install's shared isthmus-remote-access)",
    )
    .option(
      '--token-duration <duration>',
      "give the Link a token that expires after this long (a TokenRequest, e.g. 2160h), instead of the account's non-expiring Secret token; re-run link before it expires",
    )
    .option(
      '--no-gateway',
      "a Link without a gateway, for a flat pod network: it mirrors remote-discovery Services and federated members, both as their remote pods (Linkerd's --gateway=false)",
    )
    .option('--gateway-addresses <list>', 'remote gateway addresses (default: its LoadBalancer status)')
    .option('--gateway-port <port>', "remote gateway's mTLS port (default: its Service's ingress port)")
    .option(
      '--selector <selector>',
      'remote Services to mirror, in kubectl -l syntax (default: mirror.linkerd.io/exported=true)',
    )
    .option(
      '--federated-service-selector <selector>',
      'remote federated member Services, in kubectl -l syntax; "" for none (default: mirror.linkerd.io/federated=member)',
    )
    .option(
      '--remote-discovery-selector <selector>',
      'remote Services mirrored with their pods\' own addresses, for flat pod networks (no gateway, no mTLS); "" for none (default: mirror.linkerd.io/exported=remote-discovery)',
    )
    .option(
      '--excluded-labels <list>',
      'label keys not copied to mirrors, comma-separated (prefix/* wildcards)',
    )
    .option(
      '--excluded-annotations <list>',
      'annotation keys not copied to mirrors, comma-separated (prefix/* wildcards)',
    )
    .option('--mirror-headless', 'mirror headless Services, with per-pod Services for StatefulSet hostnames')
    .option(
      '--enable-namespace-creation',
      "create a mirror's namespace when it does not exist locally (the local install needs --enable-namespace-creation too)",
    )
    .option('--probe-period <duration>', 'how often the remote gateway is probed (default: 3s)')
    .option('--probe-timeout <duration>', 'how long a probe may take (default: 2s)')
    .option('--probe-failure-threshold <n>', 'failed probes in a row before the gateway is dead (default: 3)')
    .action(async (flags: LinkFlags) => {
      // Flags first: a typo is reported before the remote cluster is read.
      const {
        apiServerAddressFlag,
        clusterNameFlag,
        gatewayAddressList,
        linkSpecOptions,
        linkSpecWarnings,
        tokenDurationFlag,
        trustDomainFlag,
      } = await import('../link/options.js');
      const name = clusterNameFlag(flags.clusterName);
      const trustDomain = trustDomainFlag(flags.trustDomain);
      const tokenSeconds =
        flags.tokenDuration === undefined ? undefined : tokenDurationFlag(flags.tokenDuration);
      if (flags.apiServerAddress !== undefined) apiServerAddressFlag(flags.apiServerAddress);
      const { linkAccountFlag } = await import('../link/allow.js');
      const account = linkAccountFlag(flags.serviceAccountName);
      const options = linkSpecOptions(flags);
      for (const warning of linkSpecWarnings(options, flags.gateway !== false))
        process.stderr.write(`note: ${warning}\n`);
      const { KubeClient, R, SYSTEM_NAMESPACE, GATEWAY_SERVICE_NAME } = await import('../../kube/index.js');
      const { isIsthmusError } = await import('../../errors.js');
      const {
        checkRemoteClusterName,
        clusterTlsOf,
        gatewayAddressesOf,
        gatewayPortOf,
        refuseLinkWithoutRemoteGateway,
        renderLink,
        tokenOf,
      } = await import('../link/render.js');
      const client = flags.kubeconfig
        ? KubeClient.fromKubeconfigFile(flags.kubeconfig, flags.context)
        : KubeClient.fromDefault(flags.context);
      try {
        // First, before a token is minted: is this the cluster --cluster-name says?
        const namespace = await client
          .get<V1Namespace>(R.namespaces, undefined, SYSTEM_NAMESPACE)
          .catch((err: unknown) => {
            if (isIsthmusError(err, 'KUBE_FORBIDDEN')) return 'forbidden' as const;
            throw err;
          });
        const note = checkRemoteClusterName(namespace, flags.context, name);
        if (note !== undefined) process.stderr.write(`note: ${note}\n`);
        const { gatewayPort, ...rest } = options;
        let gateway: { addresses: string[]; port: number } | undefined;
        if (flags.gateway !== false) {
          refuseLinkWithoutRemoteGateway(namespace === 'forbidden' ? undefined : namespace, name);
          const svc = await client.get<V1Service>(R.services, SYSTEM_NAMESPACE, GATEWAY_SERVICE_NAME);
          const gw =
            flags.gatewayAddresses !== undefined
              ? { addresses: gatewayAddressList(flags.gatewayAddresses), port: gatewayPortOf(svc) }
              : gatewayAddressesOf(svc, name);
          gateway = { addresses: gw.addresses, port: gatewayPort ?? gw.port };
        }
        let token: string;
        if (tokenSeconds === undefined) {
          token = tokenOf(await client.get(R.secrets, SYSTEM_NAMESPACE, `${account}-token`), name, account);
        } else {
          const { boundRemoteToken, boundTokenNote } = await import('../link/bound-token.js');
          const bound = await boundRemoteToken(client, name, account, tokenSeconds);
          process.stderr.write(`note: ${boundTokenNote(bound, tokenSeconds)}\n`);
          token = bound.token;
        }
        const cluster = client.config.getCurrentCluster();
        process.stdout.write(
          renderLink({
            clusterName: name,
            trustDomain,
            clusterDomain: flags.clusterDomain,
            apiServer: flags.apiServerAddress ?? client.server,
            ...clusterTlsOf(cluster),
            token,
            serviceAccount: account,
            ...(gateway ? { gateway } : {}),
            options: rest,
          }),
        );
      } finally {
        client.close();
      }
    });
}

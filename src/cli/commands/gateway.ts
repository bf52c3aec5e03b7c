import type { Command } from 'commander';
import { PORTS } from '../../kube/keys.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerGateway(program: Command): void {
  program
    .command('gateway')
    .description(
      'Run the gateway: mTLS ingress for exported and federated Services, egress listeners for mirrors, admin server',
    )
    .option('--cluster <name>', "this cluster's name (env ISTHMUS_CLUSTER_NAME)")
    .option('--trust-domain <domain>', 'SPIFFE trust domain (default cluster.local)')
    .option('--cluster-domain <domain>', 'cluster DNS domain (default cluster.local)')
    .option('--system-namespace <ns>', 'namespace of the Links (default isthmus-system)')
    .option('--in-cluster', "use the pod's service account")
    .option('--kubeconfig <path>', 'kubeconfig of the local cluster')
    .option('--context <name>', 'kubeconfig context')
    .option('--ingress-host <address>', 'ingress address (default: every interface, IPv4 and IPv6)')
    .option('--ingress-port <port>', `ingress port (default ${PORTS.ingress})`)
    .option('--admin-host <address>', 'admin address (default: every interface, IPv4 and IPv6)')
    .option('--admin-port <port>', `admin port (default ${PORTS.admin})`)
    .option(
      '--egress-host <address>',
      'address the egress listeners bind (default: every interface; env ISTHMUS_EGRESS_HOST)',
    )
    .option(
      '--pod-ip <addresses>',
      "this pod's IP addresses, comma-separated as the downward API's status.podIPs: on SIGTERM the egress listeners stay open while an EndpointSlice of a mirror (or of an apex or federated Service forwarding to one) still lists one (default: --egress-host when it is one address, else the fixed drain delay; env ISTHMUS_POD_IP)",
    )
    .option(
      '--export-selector <selector>',
      'label selector of exported Services (default mirror.linkerd.io/exported=true)',
    )
    .option(
      '--federated-selector <selector>',
      'label selector of federated member Services, admitted like exported ones (default mirror.linkerd.io/federated=member; "" admits none)',
    )
    .option(
      '--allow-cluster <name>',
      'admit this peer cluster besides the targets of local Links (repeatable)',
      collect,
    )
    .option(
      '--egress-port-range <first-last>',
      `the mirror controller's --egress-port-range: mirrors claiming other ports are not routed (default ${PORTS.egressRange.first}-${PORTS.egressRange.last})`,
    )
    .option(
      '--identity-address <host:port>',
      "identity service to request certificates from, over TLS: its certificate must chain to --ca-file and name this cluster's identity service (spiffe://<trust domain>/cluster/<cluster>/identity)",
    )
    .option(
      '--token-file <path>',
      'service account token for the identity service (audience identity.isthmus.dev; re-read at each renewal, as the kubelet refreshes it)',
    )
    .option('--cert-file <path>', 'certificate chain file (instead of the identity service)')
    .option('--key-file <path>', 'private key file (with --cert-file)')
    .option(
      '--ca-file <path>',
      'trust anchor file (bundle): peers and the identity service are verified against it',
    )
    .option('--crl-file <path>', 'PEM bundle of CRLs (isthmus certs revoke); re-read when it changes')
    .option('--connect-timeout-ms <ms>', 'how long egress waits for a remote gateway (default 5000)')
    .option(
      '--access-log',
      'log one line per tunnel and per refused tunnel, at info (env ISTHMUS_ACCESS_LOG)',
    )
    .option(
      '--dial-pod-ips-only',
      "dial only endpoints that are the IP of a running Pod in the Service's namespace, not whatever an EndpointSlice lists (needs get, list and watch on pods cluster-wide; env ISTHMUS_DIAL_POD_IPS_ONLY)",
    )
    .option(
      '--max-tunnels <n>',
      "tunnels the ingress holds at once (open or dialling), shared fairly among peer clusters; beyond them a CONNECT gets 503 (default 10000, sized for the install's 512Mi memory limit; env ISTHMUS_MAX_TUNNELS)",
    )
    .option(
      '--max-sessions-per-peer <n>',
      'HTTP/2 sessions one peer cluster may hold at the ingress; beyond, GOAWAY (default 32; env ISTHMUS_MAX_SESSIONS_PER_PEER)',
    )
    .option(
      '--max-sessions <n>',
      'HTTP/2 sessions all peers may hold at the ingress (default 1000; env ISTHMUS_MAX_SESSIONS)',
    )
    .option(
      '--tunnel-idle-timeout-ms <ms>',
      'cut a tunnel idle both ways this long, up to 2147483647 (default 0: never; env ISTHMUS_TUNNEL_IDLE_TIMEOUT_MS)',
    )
    .option(
      '--ingress-stream-window <bytes>',
      "HTTP/2 stream window the ingress advertises, 65536 to 16777216: a tunnel's upload is ~window / RTT, and a tunnel whose backend stalls holds ~the window of memory (default 1048576; env ISTHMUS_INGRESS_STREAM_WINDOW)",
    )
    .option(
      '--drain-delay-ms <ms>',
      'on SIGTERM, stay unready but serving this long before refusing new connections (default 0)',
    )
    .option(
      '--shutdown-grace-ms <ms>',
      'on SIGTERM, how long open tunnels may finish before they are cut, delay included (default 0)',
    )
    .action(async (flags: Record<string, unknown>) => {
      const { gatewayOptionsFromFlags } = await import('../../gateway/config.js');
      const { serveGateway } = await import('../../gateway/serve.js');
      await serveGateway(gatewayOptionsFromFlags(flags, process.env));
    });
}

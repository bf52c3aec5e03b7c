/** The readiness checks the lab makes of its processes, as their Deployments' probes would. */
import { connect } from 'node:net';
import type { V1Probe } from '@kubernetes/client-node';
import { request } from 'undici';
import { hostPort } from '../../host-port.js';
import { checkHealth, ServingStatus } from '../../identity/health.js';

/** An HTTP GET answered 200 within 2 s (the gateway's and the controller's /ready). */
export async function httpReady(url: string): Promise<boolean> {
  try {
    const res = await request(url, { headersTimeout: 2000, bodyTimeout: 2000 });
    await res.body.dump();
    return res.statusCode === 200;
  } catch {
    return false;
  }
}

/** grpc.health.v1 answers SERVING within 2 s, in plaintext (identity's :9990, as its gRPC probes). */
export async function grpcServing(host: string, port: number): Promise<boolean> {
  try {
    return (await checkHealth(hostPort(host, port), { timeoutMs: 2000 })) === ServingStatus.SERVING;
  } catch {
    return false;
  }
}

/** A TCP connection accepted within 2 s (`lab status`: the identity's Certify port is open). */
export function tcpOpen(host: string, port: number, timeoutMs = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: timeoutMs });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.once('timeout', () => done(false));
  });
}

/** A container of a pod template, as far as its readiness probe goes. */
export interface ProbedContainer {
  ports?: { name?: string; containerPort: number }[];
  readinessProbe?: V1Probe;
}

/**
 * A container's readiness probe as the kubelet runs it against the pod's IP: its check (undefined
 * when it passes, else what the kubelet's Unhealthy event says), its period and thresholds.
 */
export interface ReadinessProbe {
  check(): Promise<string | undefined>;
  periodMs: number;
  failureThreshold: number;
  successThreshold: number;
}

/** A probe's port: a number as is, a name from the container's ports (the kubelet's FindPort). */
function probePort(container: ProbedContainer, port: number | string | undefined): number | undefined {
  if (typeof port === 'number') return port;
  const named = container.ports?.find((p) => p.name === port)?.containerPort;
  return named ?? (port !== undefined && /^\d+$/.test(port) ? Number(port) : undefined);
}

const passes = async () => undefined;

const statusName = (status: number) =>
  Object.entries(ServingStatus).find(([, v]) => v === status)?.[0] ?? String(status);

/**
 * The kubelet's readiness prober for `container` of a pod at `podIP`: httpGet (a status from 200 to
 * 399 passes), grpc (grpc.health.v1 SERVING) and tcpSocket (a connection), each within the probe's
 * timeoutSeconds; with the API's defaults (period 10 s, timeout 1 s, 3 failures, 1 success). A
 * container without a readiness probe is ready while it runs, as the kubelet has it.
 */
export function readinessProbe(container: ProbedContainer, podIP: string): ReadinessProbe {
  const p = container.readinessProbe;
  const timeoutMs = (p?.timeoutSeconds ?? 1) * 1000;
  const shape = {
    periodMs: (p?.periodSeconds ?? 10) * 1000,
    failureThreshold: p?.failureThreshold ?? 3,
    successThreshold: p?.successThreshold ?? 1,
  };
  if (p?.httpGet) {
    const { httpGet } = p;
    const port = probePort(container, httpGet.port as number | string);
    const scheme = (httpGet.scheme ?? 'HTTP').toLowerCase();
    const url = `${scheme}://${hostPort(httpGet.host ?? podIP, port ?? 0)}${httpGet.path ?? '/'}`;
    return {
      ...shape,
      check: async () => {
        if (port === undefined) return `no port ${String(httpGet.port)} in container`;
        try {
          const res = await request(url, { headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
          await res.body.dump();
          return res.statusCode >= 200 && res.statusCode < 400
            ? undefined
            : `HTTP probe failed with statuscode: ${res.statusCode}`;
        } catch (err) {
          return `Get "${url}": ${err instanceof Error ? err.message : String(err)}`;
        }
      },
    };
  }
  if (p?.grpc) {
    const { port, service } = p.grpc;
    return {
      ...shape,
      check: async () => {
        try {
          const status = await checkHealth(hostPort(podIP, port), {
            ...(service ? { service } : {}),
            timeoutMs,
          });
          return status === ServingStatus.SERVING
            ? undefined
            : `service unhealthy (responded with "${statusName(status)}")`;
        } catch {
          return `timeout: failed to connect service "${hostPort(podIP, port)}" within ${timeoutMs / 1000}s`;
        }
      },
    };
  }
  if (p?.tcpSocket) {
    const port = probePort(container, p.tcpSocket.port as number | string);
    const host = p.tcpSocket.host ?? podIP;
    return {
      ...shape,
      check: async () =>
        port !== undefined && (await tcpOpen(host, port, timeoutMs))
          ? undefined
          : `dial tcp ${hostPort(host, port ?? 0)}: connect failed`,
    };
  }
  // No probe (or an exec probe, which the lab cannot run in a container it does not have): ready.
  return { ...shape, check: passes };
}

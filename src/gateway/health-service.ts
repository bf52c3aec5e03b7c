/**
 * The standard gRPC health service, `grpc.health.v1.Health` (grpc/grpc doc/health-checking.md and
 * src/proto/grpc/health/v1/health.proto), served by the admin port so that Kubernetes' gRPC probes
 * and mesh tooling can ask the gateway. The schema is given inline (protobufjs JSON form) rather
 * than as a .proto file, so nothing has to be shipped next to the compiled code.
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

/** health.proto `HealthCheckResponse.ServingStatus`. */
export const ServingStatus = { UNKNOWN: 0, SERVING: 1, NOT_SERVING: 2, SERVICE_UNKNOWN: 3 } as const;
export type ServingStatusName = keyof typeof ServingStatus;

const HEALTH_SCHEMA = {
  nested: {
    grpc: {
      nested: {
        health: {
          nested: {
            v1: {
              nested: {
                HealthCheckRequest: { fields: { service: { type: 'string', id: 1 } } },
                HealthCheckResponse: {
                  fields: { status: { type: 'ServingStatus', id: 1 } },
                  nested: { ServingStatus: { values: ServingStatus } },
                },
                Health: {
                  methods: {
                    Check: { requestType: 'HealthCheckRequest', responseType: 'HealthCheckResponse' },
                    Watch: {
                      requestType: 'HealthCheckRequest',
                      responseType: 'HealthCheckResponse',
                      responseStream: true,
                    },
                  },
                },
              },
            },
          },
        },
      },
    },
  },
};

export interface HealthCheckRequest {
  service: string;
}
export interface HealthCheckResponse {
  status: ServingStatusName;
}

interface HealthPackage {
  service: grpc.ServiceDefinition;
  Client: grpc.ServiceClientConstructor;
}

let loaded: HealthPackage | undefined;

/** The service definition (for a server) and the client constructor (for probes and tests). */
export function healthPackage(): HealthPackage {
  if (loaded === undefined) {
    // enums: String gives `status: 'SERVING'` in decoded messages; defaults: an empty request still has `service: ''`.
    const def = protoLoader.fromJSON(HEALTH_SCHEMA as Parameters<typeof protoLoader.fromJSON>[0], {
      enums: String,
      defaults: true,
    });
    const root = grpc.loadPackageDefinition(def) as unknown as {
      grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } };
    };
    const Client = root.grpc.health.v1.Health;
    loaded = { service: Client.service, Client };
  }
  return loaded;
}

/** The client side, typed: used by tests and by anything that checks a gateway over gRPC. */
export interface HealthClient extends grpc.Client {
  Check(
    request: HealthCheckRequest,
    options: grpc.CallOptions,
    callback: (err: grpc.ServiceError | null, response?: HealthCheckResponse) => void,
  ): grpc.ClientUnaryCall;
  Watch(
    request: HealthCheckRequest,
    options?: grpc.CallOptions,
  ): grpc.ClientReadableStream<HealthCheckResponse>;
}

/** A plaintext health client for `<host>:<port>` (the admin port). Close it with `close()`. */
export function createHealthClient(address: string): HealthClient {
  const { Client } = healthPackage();
  return new Client(address, grpc.credentials.createInsecure()) as unknown as HealthClient;
}

/** One Check with a deadline; resolves to the status name. */
export function checkHealth(
  client: HealthClient,
  service = '',
  timeoutMs = 5_000,
): Promise<ServingStatusName> {
  return new Promise((resolve, reject) => {
    client.Check({ service }, { deadline: Date.now() + timeoutMs }, (err, res) =>
      err || res === undefined ? reject(err ?? new Error('empty health response')) : resolve(res.status),
    );
  });
}

/**
 * Health service implementation over a status source. Names other than those in `services` are
 * answered NOT_FOUND, as health-checking.md prescribes; '' is the server as a whole.
 */
export class HealthImplementation {
  private readonly watchers = new Set<{
    call: grpc.ServerWritableStream<HealthCheckRequest, HealthCheckResponse>;
    last?: ServingStatusName;
  }>();

  constructor(
    private readonly status: () => ServingStatusName,
    private readonly services: ReadonlySet<string> = new Set(['']),
  ) {}

  handlers(): grpc.UntypedServiceImplementation {
    return {
      Check: (
        call: grpc.ServerUnaryCall<HealthCheckRequest, HealthCheckResponse>,
        callback: grpc.sendUnaryData<HealthCheckResponse>,
      ) => {
        if (!this.services.has(call.request.service)) {
          callback({ code: grpc.status.NOT_FOUND, details: `unknown service "${call.request.service}"` });
          return;
        }
        callback(null, { status: this.status() });
      },
      // Watch sends the current status at once and then every change; an unknown service is
      // SERVICE_UNKNOWN rather than an error, so a client can wait for it to appear.
      Watch: (call: grpc.ServerWritableStream<HealthCheckRequest, HealthCheckResponse>) => {
        const entry: { call: typeof call; last?: ServingStatusName } = { call };
        this.watchers.add(entry);
        const done = (): void => {
          this.watchers.delete(entry);
        };
        call.on('cancelled', done);
        call.on('close', done);
        call.on('error', done);
        this.push(entry);
      },
    };
  }

  /** Re-evaluates the status and tells every Watch whose status changed. */
  refresh(): void {
    for (const entry of this.watchers) this.push(entry);
  }

  /** Ends every Watch stream (server shutdown). */
  endAll(): void {
    for (const entry of this.watchers) entry.call.end();
    this.watchers.clear();
  }

  private push(entry: {
    call: grpc.ServerWritableStream<HealthCheckRequest, HealthCheckResponse>;
    last?: ServingStatusName;
  }): void {
    const status: ServingStatusName = this.services.has(entry.call.request.service)
      ? this.status()
      : 'SERVICE_UNKNOWN';
    if (status === entry.last) return;
    entry.last = status;
    entry.call.write({ status });
  }
}

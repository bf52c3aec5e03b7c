/**
 * Which cluster a remote API is, asked again whenever the connection may have come to reach
 * another server: not only when a connection is made (remote-cluster.ts), but before every re-list
 * (410 Gone) and before every watch or read that follows a failed request or an ended watch. An
 * API address (a DNS name, a load balancer's IP) can point at another cluster after an outage, and
 * kubeconfig CA pinning does not catch that under a shared CA or insecure-skip-tls-verify: one list
 * of that cluster would delete every mirror as an orphan and mirror its Services in their place.
 * The price is one GET of the remote's `isthmus-system` namespace per break (a watch ends every
 * 5–10 minutes), shared by the informers that resume together.
 *
 * It narrows the window rather than closes it: the GET and the request after it are separate HTTP
 * requests, which a pooled connection or a balancer may send to different servers. CA pinning
 * (a kubeconfig with the remote's own CA) is what closes it.
 */
import type { Readable } from 'node:stream';
import { IsthmusError } from '../errors.js';
import type { KubeClient, ListOptions } from '../kube/client.js';
import { type ResourceRef, resourcePath } from '../kube/resources.js';
import type { KubeObject } from '../kube/types.js';
import type { RemoteIdentity } from './remote-identity.js';

/** Thrown instead of a request to a remote that says it is another cluster. */
export class RemoteMismatchError extends IsthmusError {
  constructor(installed: string) {
    super(
      'LINK_INVALID',
      `the remote API answers as cluster ${JSON.stringify(installed)}: nothing of it is listed or watched until it is the Link's cluster again`,
    );
  }
}

export class IdentityGate {
  /** Bumped by every break: an answer counts for the requests up to the next one. */
  private generation = 0;
  private answer: { generation: number; identity: Promise<RemoteIdentity> } | undefined;

  constructor(
    /** One question to the remote (a failure is an outage: asked again after the next break). */
    private readonly ask: () => Promise<RemoteIdentity>,
    private readonly onAnswer: (identity: RemoteIdentity) => void,
  ) {}

  /** The remote's answer since the last break; asked now if there is none. */
  identity(): Promise<RemoteIdentity> {
    if (this.answer?.generation !== this.generation) {
      const identity = this.ask().then((answer) => {
        this.onAnswer(answer);
        return answer;
      });
      this.answer = { generation: this.generation, identity };
    }
    return this.answer.identity;
  }

  /** Resolves when the remote may be read; throws RemoteMismatchError when it is another cluster. */
  async pass(): Promise<void> {
    const identity = await this.identity();
    if (identity.verdict === 'mismatch') throw new RemoteMismatchError(identity.installed);
  }

  /** The connection may reach another server from now on: the next request asks again. */
  broken(): void {
    this.generation++;
  }
}

/**
 * `client` as the remote informers (and the reads beside them) use it: list, watch and get go out
 * only once `gate` has passed since the last break. A failed request (the refusal included, so a
 * retry asks again), the end of a watch stream and a re-list are breaks; the first list of each
 * informer is not, as the connection's own check has just answered.
 */
export function gatedClient(client: KubeClient, gate: IdentityGate): KubeClient {
  const listed = new Set<string>();
  const guarded = async <T>(request: () => Promise<T>): Promise<T> => {
    try {
      await gate.pass();
      return await request();
    } catch (err) {
      gate.broken();
      throw err;
    }
  };
  const list = <T extends KubeObject>(res: ResourceRef, opts: ListOptions = {}) => {
    const key = `${resourcePath(res, opts.namespace)}?${opts.labelSelector ?? ''}&${opts.fieldSelector ?? ''}`;
    if (listed.has(key)) gate.broken();
    listed.add(key);
    return guarded(() => client.list<T>(res, opts));
  };
  const watch: KubeClient['watch'] = (res, opts) =>
    guarded(async () => breakWhenEnded(await client.watch(res, opts), gate));
  const get: KubeClient['get'] = (res, namespace, name, opts) =>
    guarded(() => client.get(res, namespace, name, opts));
  const gated: Partial<Record<string | symbol, unknown>> = { list, watch, get };
  return new Proxy(client, {
    get: (target, prop, receiver) =>
      Object.hasOwn(gated, prop) ? gated[prop] : Reflect.get(target, prop, receiver),
  });
}

/**
 * The stream's end is a break, noted as it happens: 'end' and 'error' reach this listener before
 * the informer's own iteration (added later) sees them, so its next watch asks again.
 */
function breakWhenEnded(stream: Readable, gate: IdentityGate): Readable {
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    gate.broken();
  };
  for (const event of ['end', 'error', 'close']) stream.once(event, end);
  return stream;
}

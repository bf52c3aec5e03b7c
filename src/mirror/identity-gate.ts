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
 * The gate keeps the strongest answer it has heard (remote-identity.ts, `recheck`): once the
 * remote has named a cluster, the Link's or another, an answer that cannot say (no label, no
 * namespace, a 403) is refused too, as another cluster at the same address answers so. Only a
 * connection that never heard a name (an install that predates the label, a remote-discovery-only
 * cluster, a role that may not read the namespace) takes such an answer as it is. A connection
 * started over for the same credentials carries what the one before heard (`before`).
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
import { type NamedIdentity, namedBy, type RemoteIdentity, recheck } from './remote-identity.js';

/** Thrown instead of a request to a remote that says it is another cluster. */
export class RemoteMismatchError extends IsthmusError {
  constructor(installed: string) {
    super(
      'LINK_INVALID',
      `the remote API answers as cluster ${JSON.stringify(installed)}: nothing of it is listed or watched until it is the Link's cluster again`,
    );
  }
}

/**
 * Thrown instead of a request to a remote that said a name on this connection and now cannot say
 * which cluster it is (remote-identity.ts, `recheck`).
 */
export class RemoteUnconfirmedError extends IsthmusError {
  constructor(identity: Extract<RemoteIdentity, { verdict: 'unconfirmed' }>) {
    const said =
      identity.before.verdict === 'confirmed' ? "the Link's" : JSON.stringify(identity.before.installed);
    super(
      'LINK_INVALID',
      `the remote API answered as ${said} cluster before and cannot say which cluster it is now (${identity.why}): nothing of it is listed or watched until it is the Link's cluster again`,
    );
  }
}

export class IdentityGate {
  /** Bumped by every break: an answer counts for the requests up to the next one. */
  private generation = 0;
  private answer: { generation: number; identity: Promise<RemoteIdentity> } | undefined;
  /** The last answer that named a cluster: from then on, one that cannot say is refused. */
  private named: NamedIdentity | undefined;

  constructor(
    /** One question to the remote (a failure is an outage: asked again after the next break). */
    private readonly ask: () => Promise<RemoteIdentity>,
    /** Each answer as the gate takes it (`recheck`ed). */
    private readonly onAnswer: (identity: RemoteIdentity) => void,
    /** What the remote said on the connection this one starts over from, for the same credentials. */
    before?: NamedIdentity,
  ) {
    this.named = before;
  }

  /** The remote's answer since the last break, as the gate takes it; asked now if there is none. */
  identity(): Promise<RemoteIdentity> {
    if (this.answer?.generation !== this.generation) {
      const identity = this.ask().then((said) => {
        const answer = recheck(said, this.named);
        this.named = namedBy(answer) ?? this.named;
        this.onAnswer(answer);
        return answer;
      });
      this.answer = { generation: this.generation, identity };
    }
    return this.answer.identity;
  }

  /**
   * Resolves when the remote may be read; throws RemoteMismatchError when it is another cluster,
   * RemoteUnconfirmedError when it said a name before and cannot say now.
   */
  async pass(): Promise<void> {
    const identity = await this.identity();
    if (identity.verdict === 'mismatch') throw new RemoteMismatchError(identity.installed);
    if (identity.verdict === 'unconfirmed') throw new RemoteUnconfirmedError(identity);
  }

  /** The connection may reach another server from now on: the next request asks again. */
  broken(): void {
    this.generation++;
  }
}

/**
 * `client` as the remote informers (and the reads beside them) use it: list, watch, get and the
 * informers' version checks go out only once `gate` has passed since the last break. A failed
 * request (the refusal included, so a retry asks again), the end of a watch stream and a re-list
 * are breaks; the first list of each informer is not, as the connection's own check has just
 * answered, and neither is a version check (listResourceVersion): it lists nothing anyone applies,
 * and it follows a break already (informers resuming together share one question).
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
  // On `client` itself, so that its list is not taken for a re-list here.
  const listResourceVersion: KubeClient['listResourceVersion'] = (res, opts) =>
    guarded(() => client.listResourceVersion(res, opts));
  const gated: Partial<Record<string | symbol, unknown>> = { list, watch, get, listResourceVersion };
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

/**
 * Which of a remote gateway's addresses the session pool dials. A mirror names one address of its
 * remote gateway (`isthmus.dev/remote-gateway`, the controller's preferred one: mirrors must not be
 * rewritten at every address failure, each write is rate limited), but a Link may name several: the
 * remote LoadBalancer's ingress IPs or hostnames (`status.gatewayAddresses`), the nodes of a NodePort
 * gateway (`spec.gatewayAddress`). When that one address gives no session for a reason another
 * address need not share (nothing answers there: a drained node with `externalTrafficPolicy: Local`,
 * a node replaced in an upgrade), the pool tries the other addresses the same Link names for the same
 * cluster on the same port, the one asked about first, then the Link's order (Linkerd lists every
 * gateway address in a mirror's endpoints). Pure decisions; the pool (address-walk.ts) applies them.
 *
 * Only addresses a Link names are ever dialled: the candidates come from the Links of the cluster
 * the tunnel or probe expects (whose gateway identity each session must then hold), and only from a
 * Link that names the asked address itself.
 */

import { isIP } from 'node:net';
import { IsthmusError, type IsthmusErrorCode } from '../errors.js';
import type { HostPort } from '../host-port.js';
import { PORTS } from '../kube/keys.js';
import type { Link } from '../kube/types.js';
import { splitAddresses } from '../mirror/link-config.js';
import { clustersOfLink } from './peers.js';
import { targetKey } from './probe-targets.js';

/**
 * The addresses of the gateway at `target` for `cluster`: the list that names `target` (on its port)
 * in a Link of that cluster, on that port, in its order, each once, `target` itself in its own
 * spelling. A Link has two lists: `status.gatewayAddresses`, what the controller follows (the remote
 * LoadBalancer's ingress addresses, else the Link's own), and `spec.gatewayAddress`; the first that
 * names `target` is its list. So a LoadBalancer's address never falls back to the Link's
 * `gatewayAddress`, which is only the fallback while the LoadBalancer has none (and may be stale),
 * and the nodes given for a NodePort gateway stand in for each other. Addresses of `target`'s IP
 * family come first (the controller chose `target` by the local family: a dual-stack remote lists
 * both, and an IPv4-only pod cannot dial the IPv6 one). Just `[target]` when no Link names it.
 */
export function gatewayAddressesOf(links: readonly Link[], target: HostPort, cluster: string): HostPort[] {
  const wanted = targetKey(target);
  const found: HostPort[] = [];
  const seen = new Set<string>();
  for (const link of links) {
    if (!clustersOfLink(link).includes(cluster)) continue;
    const port = link.spec?.gatewayPort ?? PORTS.ingress;
    if (port !== target.port) continue;
    const named = [link.status?.gatewayAddresses ?? [], splitAddresses(link.spec?.gatewayAddress)]
      .map((hosts) => hosts.map((host) => ({ host, port, key: targetKey({ host, port }) })))
      .find((list) => list.some((n) => n.key === wanted));
    if (named === undefined) continue;
    for (const { host, key } of named) {
      if (seen.has(key)) continue;
      seen.add(key);
      found.push(key === wanted ? target : { host, port });
    }
  }
  if (found.length === 0) return [target];
  const family = isIP(target.host);
  const sameFamily = (a: HostPort): boolean => family === 0 || isIP(a.host) === 0 || isIP(a.host) === family;
  return [...found.filter(sameFamily), ...found.filter((a) => !sameFamily(a))];
}

/**
 * The order one walk tries `addresses` (keys, in the Link's order) in: the address asked about (the
 * mirror's, the controller's choice) first, then the others in the Link's order, those `deferred`
 * (in their backoff after a failure another address may cure: `isDeferred`) last, in the same order.
 * A tunnel defers the address asked about too while it is in such a backoff (a dial there would fail
 * fast anyway); a probe never does: probes are how a recovered remote is noticed. No memory of the
 * address that worked last: every walk, on every gateway replica, starts from the same place, so a
 * tunnel is back at the address asked about as soon as its backoff ends (one failed dial there at
 * most per backoff period meanwhile), and two replicas' probes say the same `via`.
 */
export function walkOrder(
  addresses: readonly string[],
  asked: string,
  deferred: (address: string) => boolean,
  probing: boolean,
): string[] {
  const first = probing || !deferred(asked) ? [asked] : [];
  const rest = [...(first.length === 0 ? [asked] : []), ...addresses.filter((a) => a !== asked)];
  return [...first, ...rest.filter((a) => !deferred(a)), ...rest.filter(deferred)];
}

/**
 * Whether an address is deferred in a walk (tried after the others): its last dial failed in a way
 * another address may not share (`triesNextAddress`) and its backoff has not ended. An address whose
 * last failure was one of trust is never deferred: it keeps its place, and if it is the one asked
 * about, its error ends the walk (`walkStep`) instead of being walked around.
 */
export function isDeferred(s: { lastError: IsthmusError | undefined; backoffOver: boolean }): boolean {
  return !s.backoffOver && triesNextAddress(s.lastError);
}

/**
 * Whether a failure to get a session at one address of a gateway justifies trying another address
 * of it: nothing answered there, or not in time (refused, reset, unreachable, a connect timeout, a
 * session that stopped answering, a replica ending the session before it was established: all
 * GATEWAY_UNREACHABLE or GATEWAY_CONNECT_TIMEOUT), and a replica at its session cap (GOAWAY
 * ENHANCE_YOUR_CALM, "too many sessions": GATEWAY_UNREACHABLE, session-support.ts `atCapacity`).
 * Not a failure of trust, which another address of
 * the same gateway would not cure and must not hide: a certificate the remote refuses
 * (GATEWAY_REFUSED), one this gateway refuses (GATEWAY_UNTRUSTED: another anchor, revoked, not a
 * gateway's), the wrong cluster's gateway at that address (GATEWAY_IDENTITY_MISMATCH), nor an unlink
 * (GATEWAY_NOT_LINKED).
 */
export function triesNextAddress(err: IsthmusError | undefined): boolean {
  return err?.code === 'GATEWAY_UNREACHABLE' || err?.code === 'GATEWAY_CONNECT_TIMEOUT';
}

/** Failures of trust: the remote refused our certificate, we refused its, or it is another cluster's. */
const TRUST_FAILURES: ReadonlySet<IsthmusErrorCode> = new Set([
  'GATEWAY_REFUSED',
  'GATEWAY_UNTRUSTED',
  'GATEWAY_IDENTITY_MISMATCH',
]);

/** Whether `err` is a failure of trust (GATEWAY_REFUSED, GATEWAY_UNTRUSTED, GATEWAY_IDENTITY_MISMATCH). */
export function isTrustFailure(err: IsthmusError | undefined): err is IsthmusError {
  return err !== undefined && TRUST_FAILURES.has(err.code);
}

/**
 * Whether a walk gives the address asked about half the caller's budget to itself before it tries
 * any other, not the usual `budget / (n + 1)` (address-walk.ts): yes while the last failure there
 * was one of trust and it has given no session since (`lastFailure`, the pool's memory of that
 * address). A trust failure there ends the walk (`walkStep`), but one slower to show than the
 * usual head start (a WAN handshake and PING against a probe's 2 s / (n + 1)) lost the race to
 * another address at every walk: every probe answered alive via that one and tunnels alternated
 * between it and the failure at each backoff period (review). Not the whole budget: an address gone
 * silent since (black-holed, or a hung process whose kernel still accepts TCP, which a dialler
 * cannot tell from a slow handshake) failed every caller with a connect timeout while another
 * address answered (review). Nothing answering there at once still moves the walk on at once.
 */
export function waitsForAsked(lastFailure: IsthmusError | undefined): boolean {
  return isTrustFailure(lastFailure);
}

/**
 * What a walk does after a failure at one address: `next` (try the next address) or `end` (fail the
 * caller with it). Nothing answering is walked around anywhere. A failure of trust is walked around
 * only at an address other than the one asked about: a stale address in the Link that another
 * cluster's gateway (or another install's, under another anchor) took over must not cut the remote
 * off (review: one refused dial at the mirror's address put it behind such an address, whose
 * failure then ended every walk, for good). At the address asked about, the one the controller chose
 * for the mirror, it ends the walk: a wrong identity or certificate there is a misconfiguration that
 * must surface, not be papered over by another address. An unlink ends it anywhere.
 */
export function walkStep(err: IsthmusError, asked: boolean): 'next' | 'end' {
  if (triesNextAddress(err)) return 'next';
  return !asked && isTrustFailure(err) ? 'next' : 'end';
}

/**
 * The error of a walk that found no session: the address asked about's failure first (its code and
 * cause: what callers and metrics match on), then each other address tried, in the order tried, with
 * its own (every pool error names its address), or "no answer yet" for one still dialling when the
 * walk's time ran out. The address asked about still dialling then fails as a connect timeout.
 */
export function walkFailure(
  asked: string,
  tried: readonly { address: string; error: IsthmusError | undefined }[],
  budgetMs: number,
): IsthmusError {
  const own =
    tried.find((t) => t.address === asked)?.error ??
    new IsthmusError('GATEWAY_CONNECT_TIMEOUT', `no session with ${asked} within ${Math.round(budgetMs)} ms`);
  const others = tried
    .filter((t) => t.address !== asked)
    .map((t) => t.error?.message ?? `${t.address} gave no answer yet`);
  if (others.length === 0) return own;
  return new IsthmusError(
    own.code,
    `${own.message}; nor did the other addresses the Link names: ${others.join('; ')}`,
    own.cause === undefined ? {} : { cause: own.cause },
  );
}

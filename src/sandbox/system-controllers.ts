/**
 * The other controllers whose effects clients observe right after a write: the service-account
 * controller (a `default` ServiceAccount and the `kube-root-ca.crt` ConfigMap in every namespace),
 * the token controller (fills `kubernetes.io/service-account-token` Secrets) and the CRD
 * controllers (names accepted, Established, served; objects removed before the CRD goes). Their
 * writes are admitted as the users kube runs them as (validating admission policies see those).
 */
import { randomBytes } from 'node:crypto';
import { type AdmissionContext, SYSTEM_USERS } from './admission-policy.js';
import { CRD_CLEANUP_FINALIZER, crdToResourceType, establishedStatus } from './crds.js';
import { kubeNow } from './object-meta.js';
import type { Registry } from './registry.js';
import { resourceKey } from './resource-types.js';
import type { RestOps } from './rest-ops.js';
import type { KObj, ObjectStore, StoreEvent } from './store.js';

export const SA_TOKEN_TYPE = 'kubernetes.io/service-account-token';
export const SA_NAME_ANNOTATION = 'kubernetes.io/service-account.name';
export const SA_UID_ANNOTATION = 'kubernetes.io/service-account.uid';

const SECRETS = resourceKey('', 'secrets');
const SERVICE_ACCOUNTS = resourceKey('', 'serviceaccounts');
const CRDS = resourceKey('apiextensions.k8s.io', 'customresourcedefinitions');

/** kube-apiserver's own controllers (apiextensions) write through its loopback client. */
const APISERVER: AdmissionContext = { user: SYSTEM_USERS.apiserver };

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const b64url = (s: string) => Buffer.from(s, 'utf8').toString('base64url');

/** A JWT-shaped token, as the legacy token controller issues (only its shape matters to clients). */
function mintToken(namespace: string, sa: string, secret: string, uid: string): string {
  const header = b64url(JSON.stringify({ alg: 'RS256', kid: 'sandbox' }));
  const payload = b64url(
    JSON.stringify({
      iss: 'kubernetes/serviceaccount',
      'kubernetes.io/serviceaccount/namespace': namespace,
      'kubernetes.io/serviceaccount/secret.name': secret,
      'kubernetes.io/serviceaccount/service-account.name': sa,
      'kubernetes.io/serviceaccount/service-account.uid': uid,
      sub: `system:serviceaccount:${namespace}:${sa}`,
    }),
  );
  return `${header}.${payload}.${randomBytes(32).toString('base64url')}`;
}

/**
 * A bound token's JWT shape (TokenRequest): the account nested under `kubernetes.io`, audiences,
 * and its lifetime in `iat`/`nbf`/`exp`, which clients read to know when to renew.
 */
function mintBoundToken(
  namespace: string,
  sa: string,
  uid: string,
  audiences: string[],
  expiresAt: number,
  pod?: BoundPod,
): string {
  const now = Math.floor(Date.now() / 1000);
  const header = b64url(JSON.stringify({ alg: 'RS256', kid: 'sandbox' }));
  const payload = b64url(
    JSON.stringify({
      aud: audiences,
      exp: Math.floor(expiresAt / 1000),
      iat: now,
      iss: API_AUDIENCE,
      jti: randomBytes(16).toString('hex'),
      'kubernetes.io': { namespace, ...(pod ? { pod } : {}), serviceaccount: { name: sa, uid } },
      nbf: now,
      sub: `system:serviceaccount:${namespace}:${sa}`,
    }),
  );
  return `${header}.${payload}.${randomBytes(32).toString('base64url')}`;
}

/** The audience of the API server itself (kube-apiserver's default `--api-audiences`). */
export const API_AUDIENCE = 'https://kubernetes.default.svc.cluster.local';

export interface ServiceAccountIdentity {
  namespace: string;
  name: string;
  uid: string;
  /** Who may accept the token: a bound token's own list; a legacy Secret token is the API server's. */
  audiences: string[];
  /** The pod a bound token was bound to. */
  pod?: BoundPod;
}

/** The pod a TokenRequest bound a token to (`spec.boundObjectRef`, kind Pod), as the kubelet asks. */
export interface BoundPod {
  name: string;
  uid: string;
}

interface BoundToken {
  namespace: string;
  name: string;
  uid: string;
  audiences: string[];
  expiresAt: number;
  pod?: BoundPod;
}

export class SystemControllers {
  /** token → the ServiceAccount it authenticates as (kept in step with the Secrets). */
  private readonly tokens = new Map<string, { namespace: string; secret: string }>();
  /** token → what a TokenRequest bound it to (serviceaccounts/token). */
  private readonly boundTokens = new Map<string, BoundToken>();

  constructor(
    private readonly ops: RestOps,
    private readonly store: ObjectStore,
    private readonly registry: Registry,
    private readonly caPem: string,
  ) {}

  onEvent(ev: StoreEvent): void {
    if (ev.key === resourceKey('', 'namespaces') && ev.type === 'ADDED') this.seedNamespace(ev.obj);
    else if (ev.key === SECRETS) this.onSecret(ev);
    else if (ev.key === SERVICE_ACCOUNTS && ev.type === 'ADDED') this.fillPendingSecrets(ev.obj);
    else if (ev.key === CRDS) this.onCrd(ev);
    else if (ev.type === 'DELETED') this.recheckTerminatingCrd(ev.key);
  }

  /** A custom resource went away: its CRD may be waiting for exactly that to finish deleting. */
  private recheckTerminatingCrd(key: string): void {
    const crdName = this.registry.byKey(key)?.crd?.name;
    const crd = crdName ? this.store.get(CRDS, undefined, crdName) : undefined;
    if (crd?.metadata.deletionTimestamp)
      this.onCrd({ rv: 0, type: 'MODIFIED', key: CRDS, obj: crd, prev: crd });
  }

  /** The ServiceAccount a bearer token belongs to, if its Secret and ServiceAccount still exist. */
  serviceAccountFor(token: string): ServiceAccountIdentity | undefined {
    const bound = this.boundTokens.get(token);
    if (bound) return this.boundIdentity(token, bound);
    const entry = this.tokens.get(token);
    if (!entry) return undefined;
    const secret = this.store.get(SECRETS, entry.namespace, entry.secret);
    const saName = secret?.metadata.annotations?.[SA_NAME_ANNOTATION];
    if (!saName) return undefined;
    const sa = this.store.get(SERVICE_ACCOUNTS, entry.namespace, saName);
    if (!sa || sa.metadata.uid !== secret?.metadata.annotations?.[SA_UID_ANNOTATION]) return undefined;
    return { namespace: entry.namespace, name: saName, uid: sa.metadata.uid!, audiences: [API_AUDIENCE] };
  }

  /**
   * TokenRequest: a token for an existing ServiceAccount, for `audiences`, until `expiresAt`. It
   * dies with its ServiceAccount (the uid is bound), as a projected token does.
   */
  issueBoundToken(
    namespace: string,
    name: string,
    audiences: string[],
    expiresAt: number,
    pod?: BoundPod,
  ): string | undefined {
    const sa = this.store.get(SERVICE_ACCOUNTS, namespace, name);
    if (!sa?.metadata.uid) return undefined;
    const token = mintBoundToken(namespace, name, sa.metadata.uid, audiences, expiresAt, pod);
    this.boundTokens.set(token, {
      namespace,
      name,
      uid: sa.metadata.uid,
      audiences,
      expiresAt,
      ...(pod ? { pod } : {}),
    });
    return token;
  }

  /**
   * Time passes for tokens: every bound token issued so far is past its expiry from now on (for
   * tests of what clients do when credentials lapse; TokenRequest's minimum is 10 minutes).
   */
  expireBoundTokens(): void {
    for (const bound of this.boundTokens.values()) bound.expiresAt = 0;
  }

  private boundIdentity(token: string, bound: BoundToken): ServiceAccountIdentity | undefined {
    const sa = this.store.get(SERVICE_ACCOUNTS, bound.namespace, bound.name);
    // A pod-bound token dies with its pod, as kube-apiserver's validator checks the bound object.
    const pod = bound.pod && this.store.get(resourceKey('', 'pods'), bound.namespace, bound.pod.name);
    if (
      Date.now() >= bound.expiresAt ||
      sa?.metadata.uid !== bound.uid ||
      (bound.pod && pod?.metadata.uid !== bound.pod.uid)
    ) {
      this.boundTokens.delete(token);
      return undefined;
    }
    return {
      namespace: bound.namespace,
      name: bound.name,
      uid: bound.uid,
      audiences: bound.audiences,
      ...(bound.pod ? { pod: bound.pod } : {}),
    };
  }

  private createQuietly(
    plural: string,
    namespace: string,
    body: Record<string, unknown>,
    admission: AdmissionContext,
  ): void {
    const rt = this.registry.byKey(resourceKey('', plural))!;
    try {
      this.ops.create(rt, 'v1', namespace, body, { admission });
    } catch {
      // AlreadyExists (or the namespace is already going away): nothing to seed.
    }
  }

  private seedNamespace(ns: KObj): void {
    const name = ns.metadata.name!;
    this.createQuietly(
      'serviceaccounts',
      name,
      { metadata: { name: 'default' } },
      { user: SYSTEM_USERS.serviceAccountController },
    );
    this.createQuietly(
      'configmaps',
      name,
      {
        metadata: {
          name: 'kube-root-ca.crt',
          annotations: {
            'kubernetes.io/description':
              'Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.',
          },
        },
        data: { 'ca.crt': this.caPem },
      },
      { user: SYSTEM_USERS.rootCaPublisher },
    );
  }

  private onSecret(ev: StoreEvent): void {
    const s = ev.obj;
    if (s.type !== SA_TOKEN_TYPE) return;
    for (const [token, entry] of this.tokens) {
      if (entry.namespace === s.metadata.namespace && entry.secret === s.metadata.name)
        this.tokens.delete(token);
    }
    if (ev.type === 'DELETED') return;
    const data = (s.data ?? {}) as Record<string, string>;
    if (data.token) {
      this.tokens.set(Buffer.from(data.token, 'base64').toString('utf8'), {
        namespace: s.metadata.namespace!,
        secret: s.metadata.name!,
      });
      return;
    }
    if (ev.type === 'ADDED') this.fill(s);
  }

  private fillPendingSecrets(sa: KObj): void {
    for (const s of this.store.list(SECRETS, sa.metadata.namespace)) {
      const data = (s.data ?? {}) as Record<string, string>;
      if (
        s.type === SA_TOKEN_TYPE &&
        !data.token &&
        s.metadata.annotations?.[SA_NAME_ANNOTATION] === sa.metadata.name
      ) {
        this.fill(s);
      }
    }
  }

  /** tokens_controller: token, ca.crt and namespace, plus the ServiceAccount's uid annotation. */
  private fill(secret: KObj): void {
    const ns = secret.metadata.namespace!;
    const saName = secret.metadata.annotations?.[SA_NAME_ANNOTATION];
    if (!saName) return;
    const sa = this.store.get(SERVICE_ACCOUNTS, ns, saName);
    if (!sa) return; // filled when the ServiceAccount appears
    const next = structuredClone(secret);
    const token = mintToken(ns, saName, secret.metadata.name!, sa.metadata.uid!);
    next.metadata.annotations = { ...next.metadata.annotations, [SA_UID_ANNOTATION]: sa.metadata.uid! };
    next.data = {
      ...(next.data as object),
      token: b64(token),
      'ca.crt': b64(this.caPem),
      namespace: b64(ns),
    };
    this.ops.controllerUpdate(this.registry.byKey(SECRETS)!, next, secret, {
      user: SYSTEM_USERS.tokensController,
    });
  }

  private onCrd(ev: StoreEvent): void {
    const crd = ev.obj;
    const rt = crdToResourceType(crd);
    if (ev.type === 'DELETED') {
      this.registry.remove(rt.group, rt.plural);
      return;
    }
    if (!crd.metadata.deletionTimestamp) {
      this.registry.add(rt);
      const conditions = (crd.status as { conditions?: unknown[] } | undefined)?.conditions;
      const needsFinalizer = !crd.metadata.finalizers?.includes(CRD_CLEANUP_FINALIZER);
      if (!conditions?.length || needsFinalizer) {
        const next = structuredClone(crd);
        if (!conditions?.length) next.status = establishedStatus(crd, kubeNow());
        if (needsFinalizer)
          next.metadata.finalizers = [...(next.metadata.finalizers ?? []), CRD_CLEANUP_FINALIZER];
        this.ops.controllerUpdate(this.registry.byKey(CRDS)!, next, crd, APISERVER, 'status');
      }
      return;
    }
    // Terminating: delete every custom resource, then release the cleanup finalizer.
    const key = resourceKey(rt.group, rt.plural);
    const served = this.registry.byKey(key) ?? rt;
    for (const obj of this.store.list(key)) {
      if (!obj.metadata.deletionTimestamp) {
        try {
          // crd_finalizer deletes through the storage itself: no admission (kube does the same).
          const admission = { ...APISERVER, admitted: true };
          this.ops.delete(served, obj.metadata.namespace, obj.metadata.name!, { admission });
        } catch {
          // raced with another delete
        }
      }
    }
    if (this.store.list(key).length === 0 && crd.metadata.finalizers?.includes(CRD_CLEANUP_FINALIZER)) {
      const crdRt = this.registry.byKey(CRDS)!;
      const current = this.store.get(CRDS, undefined, crd.metadata.name!);
      if (current) this.ops.releaseFinalizer(crdRt, current, CRD_CLEANUP_FINALIZER, APISERVER);
    }
  }
}

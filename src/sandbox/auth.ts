/**
 * Authentication (bearer tokens: static ones registered from code, and ServiceAccount tokens the
 * token controller issued) and authorization (static rules, `admin`, then RBAC), plus the
 * TokenReview answer. A missing or unknown token is 401; an authenticated but unauthorized
 * request is 403 with kube-apiserver's wording.
 */
import { forbidden, unauthorized } from './api-status.js';
import {
  type Attributes,
  forbiddenMessage,
  type PolicyRule,
  type ResourceAttributes,
  rbacAllows,
  ruleAllows,
  staticRuleAllows,
  type UserInfo,
} from './rbac.js';
import type { ObjectStore } from './store.js';
import { API_AUDIENCE, type SystemControllers } from './system-controllers.js';

/**
 * TokenReview's `user.extra` keys for a token bound to a pod (pkg/serviceaccount/claims.go): what
 * lets an audit log name the pod a token was minted for.
 */
export const POD_NAME_EXTRA = 'authentication.kubernetes.io/pod-name';
export const POD_UID_EXTRA = 'authentication.kubernetes.io/pod-uid';

/**
 * What the bootstrap policy binds to system:authenticated (every user here): system:basic-user (ask
 * what you may do), system:discovery and system:public-info-viewer (discovery, health, version).
 * The sandbox has no such objects; these rules stand for them, in requests and in escalation checks.
 */
const AUTHENTICATED_RULES: readonly PolicyRule[] = [
  {
    apiGroups: ['authorization.k8s.io'],
    resources: ['selfsubjectaccessreviews', 'selfsubjectrulesreviews'],
    verbs: ['create'],
  },
  { apiGroups: ['authentication.k8s.io'], resources: ['selfsubjectreviews'], verbs: ['create'] },
  {
    resources: [],
    nonResourceURLs: [
      '/api',
      '/api/*',
      '/apis',
      '/apis/*',
      '/healthz',
      '/livez',
      '/openapi',
      '/openapi/*',
      '/readyz',
      '/version',
      '/version/',
    ],
    verbs: ['get'],
  },
];

export interface StaticUser {
  username: string;
  groups?: string[];
  rules: PolicyRule[] | 'admin';
}

export interface Principal {
  user: UserInfo;
  /** Static rules of the token; undefined for ServiceAccounts (RBAC only). */
  rules: PolicyRule[] | 'admin' | undefined;
}

export class Auth {
  private readonly staticTokens = new Map<string, StaticUser>();

  constructor(
    private readonly store: ObjectStore,
    private readonly controllers: SystemControllers,
  ) {}

  addToken(token: string, user: StaticUser): void {
    this.staticTokens.set(token, user);
  }

  /** A TokenRequest's token, or undefined when the ServiceAccount does not exist. */
  issueToken(...request: Parameters<SystemControllers['issueBoundToken']>): string | undefined {
    return this.controllers.issueBoundToken(...request);
  }

  /**
   * The principal a token stands for on a request to this API server, undefined when it is
   * unknown or bound to other audiences (a token minted for the identity service is no API key).
   */
  lookup(token: string): Principal | undefined {
    return this.identify(token, [API_AUDIENCE])?.principal;
  }

  /** The principal and the audiences of `targets` the token is good for (none: refused). */
  private identify(
    token: string,
    targets: string[],
  ): { principal: Principal; audiences: string[] } | undefined {
    const s = this.staticTokens.get(token);
    // Static tokens know no audience: like kube-apiserver's token file, they are the API server's.
    if (s && !targets.includes(API_AUDIENCE)) return undefined;
    if (s) {
      const groups = [...(s.groups ?? [])];
      if (s.rules === 'admin' && !groups.includes('system:masters')) groups.push('system:masters');
      groups.push('system:authenticated');
      return {
        principal: { user: { username: s.username, groups }, rules: s.rules },
        audiences: [API_AUDIENCE],
      };
    }
    const sa = this.controllers.serviceAccountFor(token);
    const audiences = sa ? sa.audiences.filter((a) => targets.includes(a)) : [];
    if (!sa || audiences.length === 0) return undefined;
    return {
      principal: {
        user: {
          username: `system:serviceaccount:${sa.namespace}:${sa.name}`,
          uid: sa.uid,
          groups: [
            'system:serviceaccounts',
            `system:serviceaccounts:${sa.namespace}`,
            'system:authenticated',
          ],
          ...(sa.pod ? { extra: { [POD_NAME_EXTRA]: [sa.pod.name], [POD_UID_EXTRA]: [sa.pod.uid] } } : {}),
        },
        rules: undefined,
      },
      audiences,
    };
  }

  /** `Authorization: Bearer <token>` → principal, or 401. */
  authenticate(header: string | undefined): Principal {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
    const principal = m ? this.lookup(m[1]!) : undefined;
    if (!principal) throw unauthorized();
    return principal;
  }

  /**
   * The authorizer's decision for a principal (requests, SelfSubjectAccessReviews, and the
   * `escalate`/`bind` checks and rule coverage of RBAC escalation prevention).
   */
  allows(p: Principal, a: Attributes): boolean {
    if (p.rules === 'admin') return true;
    if (AUTHENTICATED_RULES.some((r) => ruleAllows(r, a))) return true;
    if (p.rules?.some((r) => staticRuleAllows(r, a))) return true;
    return rbacAllows(this.store, p.user, a);
  }

  /** Throws 403 Forbidden worded as the RBAC authorizer's denial. */
  authorize(p: Principal, a: ResourceAttributes): void {
    if (this.allows(p, a)) return;
    throw forbidden({ group: a.group, resource: a.resource }, a.name, forbiddenMessage(p.user, a));
  }

  /**
   * SubjectAccessReview for a user the caller names (not a token): RBAC, with system:masters
   * allowed everything as the bootstrap policy does. Static test tokens are not users here.
   */
  reviewAccess(user: UserInfo, a: ResourceAttributes): boolean {
    return user.groups.includes('system:masters') || rbacAllows(this.store, user, a);
  }

  /**
   * TokenReview status for a token (authentication.k8s.io/v1). `audiences` are the reviewer's
   * (none: the API server's own); the token must be good for one of them, and the answer lists
   * those it is good for, as kube-apiserver does.
   */
  review(token: string, audiences: string[] = []): Record<string, unknown> {
    const targets = audiences.length > 0 ? audiences : [API_AUDIENCE];
    const found = this.identify(token, targets);
    if (!found) {
      const sa = this.controllers.serviceAccountFor(token);
      const error = sa
        ? `[invalid bearer token, token audiences ${JSON.stringify(sa.audiences)} is invalid for the target audiences ${JSON.stringify(targets)}]`
        : 'invalid bearer token';
      return { authenticated: false, user: {}, error };
    }
    const { user: u } = found.principal;
    const user: Record<string, unknown> = { username: u.username, groups: u.groups };
    if (u.uid) user.uid = u.uid;
    if (u.extra) user.extra = u.extra;
    return { authenticated: true, user, audiences: found.audiences };
  }
}

/**
 * Per-kind defaulting and create/update preparation, as kube-apiserver's `SetDefaults_*` functions
 * and registry strategies (`PrepareForCreate`, `PrepareForUpdate`) do it. Pure: they mutate the
 * object they are given and never touch the store.
 */
import type { KObj } from './store.js';

type Obj = Record<string, unknown>;

function rec(o: Obj, key: string): Obj {
  const v = o[key];
  if (v && typeof v === 'object' && !Array.isArray(v)) return v as Obj;
  const fresh: Obj = {};
  o[key] = fresh;
  return fresh;
}

function arr(o: Obj | undefined, key: string): Obj[] {
  const v = o?.[key];
  return Array.isArray(v) ? (v.filter((x) => x && typeof x === 'object') as Obj[]) : [];
}

function dflt(o: Obj, key: string, value: unknown): void {
  if (o[key] === undefined || o[key] === null || o[key] === '') o[key] = value;
}

function defaultPorts(list: Obj[]): void {
  for (const p of list) dflt(p, 'protocol', 'TCP');
}

function defaultService(obj: KObj): void {
  // LoadBalancerIPMode (beta, on since 1.30): an ingress with an IP and no ipMode is a VIP.
  const status = obj.status;
  if (status && typeof status === 'object' && !Array.isArray(status)) {
    const lb = (status as Obj).loadBalancer;
    for (const ing of arr(lb && typeof lb === 'object' ? (lb as Obj) : undefined, 'ingress')) {
      if (typeof ing.ip === 'string' && ing.ip !== '' && (ing.ipMode === undefined || ing.ipMode === null))
        ing.ipMode = 'VIP';
    }
  }
  const spec = rec(obj, 'spec');
  dflt(spec, 'type', 'ClusterIP');
  if (spec.type === 'ExternalName') return;
  dflt(spec, 'sessionAffinity', 'None');
  for (const p of arr(spec, 'ports')) {
    dflt(p, 'protocol', 'TCP');
    if (p.targetPort === undefined || p.targetPort === 0 || p.targetPort === '') p.targetPort = p.port;
  }
  dflt(spec, 'internalTrafficPolicy', 'Cluster');
  if (spec.type === 'NodePort' || spec.type === 'LoadBalancer')
    dflt(spec, 'externalTrafficPolicy', 'Cluster');
  if (spec.type === 'LoadBalancer') dflt(spec, 'allocateLoadBalancerNodePorts', true);
}

/** SetDefaults_Probe, SetDefaults_HTTPGetAction and GRPCAction's `+default=""` service. */
function defaultProbe(probe: Obj): void {
  dflt(probe, 'timeoutSeconds', 1);
  dflt(probe, 'periodSeconds', 10);
  dflt(probe, 'successThreshold', 1);
  dflt(probe, 'failureThreshold', 3);
  const httpGet = probe.httpGet;
  if (httpGet && typeof httpGet === 'object') {
    dflt(httpGet as Obj, 'path', '/');
    dflt(httpGet as Obj, 'scheme', 'HTTP');
  }
  // kubectl describe dereferences grpc.service: a probe without it crashes kubectl.
  const grpc = probe.grpc;
  if (grpc && typeof grpc === 'object') (grpc as Obj).service ??= '';
}

function defaultContainer(c: Obj): void {
  const image = typeof c.image === 'string' ? c.image : '';
  const tag = image.includes('@') ? 'digest' : (/:([^/:]+)$/.exec(image)?.[1] ?? 'latest');
  dflt(c, 'imagePullPolicy', tag === 'latest' ? 'Always' : 'IfNotPresent');
  dflt(c, 'terminationMessagePath', '/dev/termination-log');
  dflt(c, 'terminationMessagePolicy', 'File');
  dflt(c, 'resources', {});
  defaultPorts(arr(c, 'ports'));
  for (const key of ['readinessProbe', 'livenessProbe', 'startupProbe']) {
    const probe = c[key];
    if (probe && typeof probe === 'object' && !Array.isArray(probe)) defaultProbe(probe as Obj);
  }
}

/** SetDefaults_PodSpec (the subset visible in `kubectl get -o yaml`). */
function defaultPodSpec(spec: Obj): void {
  dflt(spec, 'restartPolicy', 'Always');
  dflt(spec, 'dnsPolicy', 'ClusterFirst');
  dflt(spec, 'terminationGracePeriodSeconds', 30);
  dflt(spec, 'schedulerName', 'default-scheduler');
  dflt(spec, 'securityContext', {});
  for (const c of [...arr(spec, 'containers'), ...arr(spec, 'initContainers')]) defaultContainer(c);
}

function defaultDeployment(obj: KObj): void {
  const spec = rec(obj, 'spec');
  dflt(spec, 'replicas', 1);
  dflt(spec, 'revisionHistoryLimit', 10);
  dflt(spec, 'progressDeadlineSeconds', 600);
  const strategy = rec(spec, 'strategy');
  dflt(strategy, 'type', 'RollingUpdate');
  if (strategy.type === 'RollingUpdate') {
    const ru = rec(strategy, 'rollingUpdate');
    dflt(ru, 'maxUnavailable', '25%');
    dflt(ru, 'maxSurge', '25%');
  }
  const template = spec.template;
  if (template && typeof template === 'object') defaultPodSpec(rec(template as Obj, 'spec'));
}

/** Secret.stringData is write-only: merged into data (base64) and dropped, as the internal conversion does. */
function defaultSecret(obj: KObj): void {
  dflt(obj, 'type', 'Opaque');
  const sd = obj.stringData;
  if (sd && typeof sd === 'object') {
    const data = rec(obj, 'data');
    for (const [k, v] of Object.entries(sd as Obj))
      data[k] = Buffer.from(String(v), 'utf8').toString('base64');
  }
  delete obj.stringData;
}

/**
 * SetDefaults_NetworkPolicy and _NetworkPolicyPort; podSelector is a struct, not a pointer, so Go
 * always writes it back, `{}` when the request left it out.
 */
function defaultNetworkPolicy(obj: KObj): void {
  const spec = rec(obj, 'spec');
  rec(spec, 'podSelector');
  for (const rule of [...arr(spec, 'ingress'), ...arr(spec, 'egress')]) {
    for (const p of arr(rule, 'ports')) p.protocol ??= 'TCP';
  }
  if (Array.isArray(spec.policyTypes) && spec.policyTypes.length > 0) return;
  const egress = Array.isArray(spec.egress) && spec.egress.length > 0;
  spec.policyTypes = egress ? ['Ingress', 'Egress'] : ['Ingress'];
}

/**
 * SetDefaults_ValidatingAdmissionPolicySpec, _MatchResources and _Rule (admissionregistration/v1):
 * failurePolicy Fail; within matchConstraints, when given, matchPolicy Equivalent, both selectors
 * `{}` and each rule's scope `*`. A missing matchConstraints stays missing (validation requires it).
 */
function defaultMatchResources(mr: unknown): void {
  if (!mr || typeof mr !== 'object' || Array.isArray(mr)) return;
  const m = mr as Obj;
  dflt(m, 'matchPolicy', 'Equivalent');
  rec(m, 'namespaceSelector');
  rec(m, 'objectSelector');
  for (const r of [...arr(m, 'resourceRules'), ...arr(m, 'excludeResourceRules')]) dflt(r, 'scope', '*');
}

const DEFAULTERS: Record<string, (obj: KObj) => void> = {
  'admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy': (obj) => {
    const spec = rec(obj, 'spec');
    dflt(spec, 'failurePolicy', 'Fail');
    defaultMatchResources(spec.matchConstraints);
  },
  'admissionregistration.k8s.io/v1/ValidatingAdmissionPolicyBinding': (obj) =>
    defaultMatchResources(rec(obj, 'spec').matchResources),
  'v1/Service': defaultService,
  'v1/Pod': (obj) => defaultPodSpec(rec(obj, 'spec')),
  'v1/Secret': defaultSecret,
  'v1/Endpoints': (obj) => {
    for (const s of arr(obj, 'subsets')) defaultPorts(arr(s, 'ports'));
  },
  'discovery.k8s.io/v1/EndpointSlice': (obj) => defaultPorts(arr(obj, 'ports')),
  'apps/v1/Deployment': defaultDeployment,
  'networking.k8s.io/v1/NetworkPolicy': defaultNetworkPolicy,
  'v1/Namespace': (obj) => {
    // Since 1.21 every namespace carries its own name as an immutable label.
    obj.metadata.labels = { ...obj.metadata.labels, 'kubernetes.io/metadata.name': obj.metadata.name! };
  },
};

/** Defaulting applied on every write (kube defaults on decode, so updates are defaulted too). */
export function applyDefaults(gvk: string, obj: KObj): void {
  DEFAULTERS[gvk]?.(obj);
}

/** PrepareForCreate: the status a new object starts with (clients cannot set status on create). */
export function initialStatus(gvk: string, obj: KObj): void {
  switch (gvk) {
    case 'v1/Namespace':
      obj.spec = { finalizers: ['kubernetes'] };
      obj.status = { phase: 'Active' };
      return;
    case 'v1/Service':
      obj.status = { loadBalancer: {} };
      return;
    case 'v1/Pod':
      obj.status = { phase: 'Pending', qosClass: 'BestEffort' };
      return;
    case 'apps/v1/Deployment':
      obj.status = {};
      return;
    case 'apiextensions.k8s.io/v1/CustomResourceDefinition':
      obj.status = {};
      return;
    default:
      delete obj.status;
  }
}

/**
 * The end of the Service strategy's dropTypeDependentFields on a spec update: the load-balancer
 * status is cleared once the type is not LoadBalancer (kube wipes it rather than expose a stale
 * address while the LB is torn down).
 */
export function dropLoadBalancerStatus(gvk: string, obj: KObj): void {
  if (gvk !== 'v1/Service') return;
  if (rec(obj, 'spec').type === 'LoadBalancer') return;
  obj.status = { ...rec(obj, 'status'), loadBalancer: {} };
}

const typeOf = (spec: Obj): string =>
  typeof spec.type === 'string' && spec.type !== '' ? spec.type : 'ClusterIP';
const usesNodePorts = (spec: Obj): boolean => typeOf(spec) === 'NodePort' || typeOf(spec) === 'LoadBalancer';
const sameJson = (a: unknown, b: unknown): boolean => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/**
 * The Service strategy's dropTypeDependentFields (pkg/registry/core/service/strategy.go), on
 * update: a field the new type does not use, left as it was, is wiped rather than refused, so a
 * client may switch `type` without clearing what the server allocated for the old one.
 */
export function dropTypeDependentFields(gvk: string, obj: KObj, old: KObj): void {
  if (gvk !== 'v1/Service') return;
  const spec = rec(obj, 'spec');
  const oldSpec = rec(old, 'spec');
  const oldType = typeOf(oldSpec);
  const newType = typeOf(spec);
  if (oldType !== 'ExternalName' && newType === 'ExternalName') {
    if (spec.clusterIP === oldSpec.clusterIP && sameJson(spec.clusterIPs, oldSpec.clusterIPs)) {
      delete spec.clusterIP;
      delete spec.clusterIPs;
    }
    if (sameJson(spec.ipFamilies, oldSpec.ipFamilies)) delete spec.ipFamilies;
    if (sameJson(spec.ipFamilyPolicy, oldSpec.ipFamilyPolicy)) delete spec.ipFamilyPolicy;
  }
  const nodePorts = (sp: Obj) =>
    arr(sp, 'ports')
      .map((p) => p.nodePort)
      .filter((n) => typeof n === 'number' && n !== 0);
  const oldNodePorts = new Set(nodePorts(oldSpec));
  if (usesNodePorts(oldSpec) && !usesNodePorts(spec) && nodePorts(spec).every((n) => oldNodePorts.has(n))) {
    for (const p of arr(spec, 'ports')) delete p.nodePort;
  }
  const needsHC = (sp: Obj) => typeOf(sp) === 'LoadBalancer' && sp.externalTrafficPolicy === 'Local';
  if (needsHC(oldSpec) && !needsHC(spec) && spec.healthCheckNodePort === oldSpec.healthCheckNodePort) {
    delete spec.healthCheckNodePort;
  }
  if (oldType === 'LoadBalancer' && newType !== 'LoadBalancer') {
    if (
      spec.allocateLoadBalancerNodePorts !== undefined &&
      spec.allocateLoadBalancerNodePorts === oldSpec.allocateLoadBalancerNodePorts
    ) {
      delete spec.allocateLoadBalancerNodePorts;
    }
    if (sameJson(spec.loadBalancerClass, oldSpec.loadBalancerClass)) delete spec.loadBalancerClass;
  }
  if (
    usesNodePorts(oldSpec) &&
    !usesNodePorts(spec) &&
    spec.externalTrafficPolicy === oldSpec.externalTrafficPolicy
  ) {
    delete spec.externalTrafficPolicy;
  }
}

/** Service update: an omitted clusterIP/clusterIPs/nodePorts keep their allocated values (patchAllocatedValues). */
export function carryAllocatedValues(gvk: string, obj: KObj, old: KObj): void {
  if (gvk !== 'v1/Service') return;
  const spec = rec(obj, 'spec');
  const oldSpec = rec(old, 'spec');
  if (spec.type === 'ExternalName') return;
  if (!spec.clusterIP && oldSpec.clusterIP) spec.clusterIP = oldSpec.clusterIP;
  if (!spec.clusterIPs && oldSpec.clusterIPs) spec.clusterIPs = oldSpec.clusterIPs;
  if (!spec.ipFamilies && oldSpec.ipFamilies) spec.ipFamilies = oldSpec.ipFamilies;
  if (!spec.ipFamilyPolicy && oldSpec.ipFamilyPolicy) spec.ipFamilyPolicy = oldSpec.ipFamilyPolicy;
  // Node ports are patched in only while both the old and the new type use them.
  if (!usesNodePorts(spec) || !usesNodePorts(oldSpec)) return;
  const oldPorts = arr(oldSpec, 'ports');
  for (const p of arr(spec, 'ports')) {
    if (p.nodePort) continue;
    const match = oldPorts.find((o) => o.port === p.port && o.protocol === p.protocol);
    if (match?.nodePort) p.nodePort = match.nodePort;
  }
}

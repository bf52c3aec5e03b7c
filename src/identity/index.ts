/** Public API of the identity part (shared/DESIGN.md: trust anchor, issuers, Certify, rotation). */
export {
  CLOCK_SKEW_ALLOWANCE_MS,
  chainOf,
  createIssuer,
  createTrustAnchor,
  DEFAULT_LEAF_LIFETIME_MS,
  type GatewayCertificate,
  issueGatewayCertificate,
  issueLeaf,
  type KeyPairPem,
  type LeafOptions,
} from './ca.js';
export {
  type CertificateInfo,
  certificateInfo,
  gatewayIdentityOf,
  parseCertificate,
} from './certificate-info.js';
export {
  DEFAULT_CERTIFY_TIMEOUT_MS,
  type IdentityServiceTrust,
  type IssuedCertificate,
  requestCertificate,
} from './certify-client.js';
export { CERTIFY_CHANNEL, formatCertifyEvent, logCertifyOutcomes } from './certify-log.js';
export {
  type CertifyCaller,
  type CertifyEvent,
  type CertifyOutcome,
  certifyChannel,
  createCertifyHandler,
  type IdentityServer,
  type IdentityServerOptions,
  POD_NAME_EXTRA,
  startIdentityServer,
  type TokenReviewer,
  type TokenReviewFailure,
} from './certify-service.js';
export { checkCsr, createCsr } from './csr.js';
export {
  ANCHOR_CERT_FILE,
  ANCHOR_KEY_FILE,
  type CertsCommandOptions,
  ISSUER_CERT_FILE,
  ISSUER_KEY_FILE,
  type LoadedCertificates,
  loadCertificates,
  loadIssuer,
  runCertsCommand,
  type WriteCertificatesOptions,
  writeCertificates,
} from './files.js';
export { addHealthService, checkHealth, type HealthStatusFn } from './health.js';
export {
  type CertificateSources,
  createIdentityMetrics,
  type IdentityMetrics,
  type IdentityMetricsOptions,
  NO_IDENTITY,
} from './identity-metrics.js';
export {
  allowedIdentityFor,
  defaultIdentityRules,
  GATEWAY_SERVICE_ACCOUNT,
  type IdentityRule,
  parseServiceAccountUsername,
} from './identity-policy.js';
export { joinPem, splitPem } from './pem.js';
export { healthServiceDefinition, identityServiceDefinition, ServingStatus } from './protocol.js';
export {
  CertificateRotator,
  type CertificateSource,
  certifySource,
  fileSource,
  secureContextOptions,
  type TlsMaterial,
} from './rotation.js';
export { DEFAULT_ROTATION_POLICY, type RotationPolicy } from './rotation-policy.js';
export { identityDnsNames, type ServingCertificate, ServingCertificateProvider } from './serving-cert.js';
export {
  gatewayIdentity,
  identityServiceId,
  isValidClusterName,
  isValidTrustDomain,
  parseSpiffeGatewayIdentity,
} from './spiffe.js';
export { type ChainVerdict, verifyChain } from './verify-chain.js';

/**
 * Kubernetes resource quantities, the way SMI TrafficSplit v1alpha1 writes weights ("500m", "1",
 * "1k"). Grammar from k8s.io/apimachinery/pkg/api/resource (quantity.go):
 *   <quantity> ::= <signedNumber><suffix>
 *   <suffix>   ::= <binarySI> | <decimalExponent> | <decimalSI>
 * Only the value matters here (weights are relative), so the result is a plain number.
 */

/** Decimal SI suffixes (quantity.go: decimalSI). */
const DECIMAL_SI: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
};

/** Binary SI suffixes (quantity.go: binarySI). */
const BINARY_SI: Record<string, number> = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

const QUANTITY = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?)$/;

/** The value of a quantity, or null when the text is not one. */
export function parseQuantity(text: string): number | null {
  const match = QUANTITY.exec(text.trim());
  if (!match) return null;
  const [, digits, exponent, suffix = ''] = match;
  const base = Number(digits);
  if (!Number.isFinite(base)) return null;
  if (exponent !== undefined) return base * 10 ** Number(exponent.slice(1));
  const scale = BINARY_SI[suffix] ?? DECIMAL_SI[suffix];
  return scale === undefined ? null : base * scale;
}

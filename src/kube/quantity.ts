/**
 * Kubernetes resource quantities ("500m", "128Mi", "1e3"): SMI TrafficSplit weights and container
 * resources. Grammar from k8s.io/apimachinery/pkg/api/resource (quantity.go):
 *   <quantity> ::= <signedNumber><suffix>
 *   <suffix>   ::= <binarySI> | <decimalExponent> | <decimalSI>
 */

/** Powers of ten of the decimal SI suffixes (quantity.go: decimalSI). */
const DECIMAL_SI: Record<string, number> = {
  n: -9,
  u: -6,
  m: -3,
  '': 0,
  k: 3,
  M: 6,
  G: 9,
  T: 12,
  P: 15,
  E: 18,
};

/** Powers of two of the binary SI suffixes (quantity.go: binarySI). */
const BINARY_SI: Record<string, number> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };

const QUANTITY = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?)$/;

/** A quantity exactly: `num / 10^scale`. */
interface Exact {
  num: bigint;
  scale: number;
}

function exact(text: string): Exact | null {
  const match = QUANTITY.exec(text.trim());
  if (!match) return null;
  const [, digits = '', exponent, suffix = ''] = match;
  const [whole = '', fraction = ''] = digits.replace(/^\+/, '').split('.');
  let num = BigInt(`${whole}${fraction}`);
  let scale = fraction.length;
  const binary = BINARY_SI[suffix];
  if (binary !== undefined) num *= 2n ** BigInt(binary);
  const power = exponent !== undefined ? Number(exponent.slice(1)) : (DECIMAL_SI[suffix] ?? 0);
  if (power >= 0) num *= 10n ** BigInt(power);
  else scale -= power;
  return { num, scale };
}

/** The value of a quantity, or null when the text is not one. */
export function parseQuantity(text: string): number | null {
  const q = exact(text);
  return q === null ? null : Number(q.num) / 10 ** q.scale;
}

/**
 * The sign of `a - b`, exactly (resource.Quantity.Cmp: "300m" equals "0.3", which floating point
 * would not promise), or null when either is not a quantity.
 */
export function compareQuantities(a: string, b: string): -1 | 0 | 1 | null {
  const x = exact(a);
  const y = exact(b);
  if (x === null || y === null) return null;
  const scale = Math.max(x.scale, y.scale);
  const left = x.num * 10n ** BigInt(scale - x.scale);
  const right = y.num * 10n ** BigInt(scale - y.scale);
  return left === right ? 0 : left > right ? 1 : -1;
}

/**
 * A quantity as the API server stores it: apimachinery's `resource.Quantity` `String()`
 * (quantity.go, CanonicalizeBytes). `--gateway-resources requests.cpu=0.5` must render `500m`,
 * or a GitOps tool comparing the manifest with the stored object (Argo CD, Flux) sees a difference
 * that never goes away. The rules, in order:
 * - zero is `0`, whatever its suffix;
 * - the format is the input's family: BinarySI (Ki, Mi, …), DecimalSI (m, k, M, …, or none) or
 *   DecimalExponent (`1e3`); precision below nano is rounded up (ParseQuantity);
 * - BinarySI is written in binary only from 1024 up and for a whole number of units, as the
 *   largest power of 1024 that divides it (`1.5Gi` → `1536Mi`); otherwise as DecimalSI (`0.5Ki` →
 *   `512`);
 * - DecimalSI and DecimalExponent: the largest power of ten that is a multiple of 3 and leaves an
 *   integer mantissa (`2000M` → `2G`, `0.5` → `500m`, `1000m` → `1`, `1.5e3` → `1500`).
 * Only called on text `parseQuantity` (src/kube/quantity.ts) accepts.
 */

const DECIMAL_SUFFIX: Record<string, number> = { n: -9, u: -6, m: -3, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const SUFFIX_OF_POWER = new Map(Object.entries(DECIMAL_SUFFIX).map(([s, p]) => [p, s]));
const BINARY_SUFFIXES = ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei'];

type Family = 'BinarySI' | 'DecimalSI' | 'DecimalExponent';

/** `value = digits × 10^power`, exactly; `family` as ParseQuantity decides it. */
interface Decomposed {
  negative: boolean;
  digits: bigint;
  power: number;
  family: Family;
}

const PARTS = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei)|([numkMGTPE]))?$/;

function decompose(text: string): Decomposed {
  const m = PARTS.exec(text.trim());
  if (!m) throw new Error(`not a quantity: ${text}`);
  const [, sign, whole = '', fraction = '', exponent, binary, decimal] = m;
  let digits = BigInt(`${whole}${fraction}` || '0');
  let power = -fraction.length;
  let family: Family = 'DecimalSI';
  if (exponent !== undefined) {
    family = 'DecimalExponent';
    power += Number(exponent);
  } else if (binary !== undefined) {
    family = 'BinarySI';
    digits *= 1024n ** BigInt(BINARY_SUFFIXES.indexOf(binary));
  } else if (decimal !== undefined) {
    power += DECIMAL_SUFFIX[decimal] ?? 0;
  }
  // Nano is the finest a Quantity keeps: anything finer is rounded up (away from zero).
  if (power < -9) {
    const unit = 10n ** BigInt(-9 - power);
    digits = (digits + unit - 1n) / unit;
    power = -9;
  }
  return { negative: sign === '-', digits, power, family };
}

/** The mantissa and power of ten, the power a multiple of 3, the mantissa an integer, largest power. */
function decimalParts(digits: bigint, power: number): { mantissa: bigint; power: number } {
  let [mantissa, p] = [digits, power];
  while (mantissa % 10n === 0n) {
    mantissa /= 10n;
    p += 1;
  }
  const down = ((p % 3) + 3) % 3;
  return { mantissa: mantissa * 10n ** BigInt(down), power: p - down };
}

/** `digits × 10^power` when it is a whole number, else undefined. */
function wholeUnits(digits: bigint, power: number): bigint | undefined {
  if (power >= 0) return digits * 10n ** BigInt(power);
  const divisor = 10n ** BigInt(-power);
  return digits % divisor === 0n ? digits / divisor : undefined;
}

/** `0.5` → `500m`, `2000M` → `2G`, `1024Mi` → `1Gi`: the form the API server stores. */
export function canonicalQuantity(text: string): string {
  const { negative, digits, power, family } = decompose(text);
  if (digits === 0n) return '0';
  const sign = negative ? '-' : '';
  const whole = wholeUnits(digits, power);
  if (family === 'BinarySI' && whole !== undefined) {
    let units = whole;
    if (units >= 1024n) {
      let step = 0;
      while (units % 1024n === 0n && step < BINARY_SUFFIXES.length - 1) {
        units /= 1024n;
        step += 1;
      }
      return `${sign}${units}${BINARY_SUFFIXES[step]}`;
    }
  }
  const parts = decimalParts(digits, power);
  if (parts.power === 0) return `${sign}${parts.mantissa}`;
  if (family === 'DecimalExponent') return `${sign}${parts.mantissa}e${parts.power}`;
  // Beyond E (10^18) DecimalSI has no suffix; apimachinery then prints none. Not a resource size.
  return `${sign}${parts.mantissa}${SUFFIX_OF_POWER.get(parts.power) ?? `e${parts.power}`}`;
}

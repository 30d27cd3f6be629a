// Text exactly as Python's json.dumps writes it (MLflow's responses): ", " and ": " separators,
// ensure_ascii escapes, floats as Python's repr (shortest round trip, "1.0", "1e-05", "1e+16"),
// NaN and ±Infinity as the bare words Python emits.

/** Python's repr(float): the shortest digits that round-trip, in Python's layout. */
export function pythonFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  // toExponential() without digits gives the shortest round-trip mantissa, like Python's repr.
  const [mantissa, expText] = x.toExponential().split('e');
  const exp = Number(expText);
  const negative = mantissa.startsWith('-');
  const digits = mantissa.replace('-', '').replace('.', '');
  const sign = negative ? '-' : '';
  if (exp < -4 || exp >= 16) {
    const m = digits.length === 1 ? digits : `${digits[0]}.${digits.slice(1)}`;
    const e = Math.abs(exp);
    return `${sign}${m}e${exp < 0 ? '-' : '+'}${e < 10 ? '0' : ''}${e}`;
  }
  if (exp < 0) return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
  const intLen = exp + 1;
  if (digits.length <= intLen) return `${sign}${digits}${'0'.repeat(intLen - digits.length)}.0`;
  return `${sign}${digits.slice(0, intLen)}.${digits.slice(intLen)}`;
}

/** A float as json.dumps writes it (allow_nan=True: NaN, Infinity, -Infinity). */
export function pythonJsonFloat(x: number, nonFinite: NonFiniteStyle = 'python'): string {
  if (!Number.isFinite(x)) {
    if (nonFinite === 'null') return 'null';
    return Number.isNaN(x) ? 'NaN' : x > 0 ? 'Infinity' : '-Infinity';
  }
  return pythonFloatRepr(x);
}

/** How NaN and ±Infinity are written: as MLflow does (`NaN`, not strict JSON) or as `null`. */
export type NonFiniteStyle = 'python' | 'null';

const NON_ASCII = /[\u0080-\uffff]/g;
const escapeNonAscii = (c: string): string => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/** A string as json.dumps writes it with ensure_ascii=True. */
export function pythonJsonString(s: string): string {
  const json = JSON.stringify(s);
  return NON_ASCII.test(json) ? json.replace(NON_ASCII, escapeNonAscii) : json;
}

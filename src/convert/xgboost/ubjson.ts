// A small, strict, bounded reader of Universal Binary JSON (ubjson.org, draft 12), the format of
// XGBoost's `model.ubj` (MLflow's default XGBoost format).
//
// Strict: every byte is accounted for (trailing bytes, unknown markers, duplicate keys, invalid
// UTF-8 and a truncated file are errors naming the offset). Bounded: the input size, the nesting
// depth and every declared count and length are checked against the bytes that remain before
// anything is allocated, so a hostile file cannot make it allocate more than the file's size
// (times a small factor) or recurse without limit.
//
// Values: objects are null-prototype records (no `__proto__` surprises), strongly typed arrays
// (`[$d#…`) become typed arrays (Float32Array for `d`, Float64Array `D`, Int8Array `i`,
// Uint8Array `U`, Int16Array `I`, Int32Array `l`, BigInt64Array `L`), other arrays JS arrays,
// integers numbers (int64 beyond 2^53 a bigint), `Z` null, `T`/`F` booleans, `C` a one-character
// string. High-precision numbers (`H`) are refused, as XGBoost refuses them.

export type UbjTypedArray = Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Int32Array | BigInt64Array;
export type UbjValue = null | boolean | number | bigint | string | UbjTypedArray | UbjValue[] | UbjObject;
export interface UbjObject {
  [key: string]: UbjValue;
}

export interface UbjsonLimits {
  /** Largest input accepted, bytes. Default 512 MiB. */
  maxBytes?: number;
  /** Deepest nesting of arrays and objects. Default 64. */
  maxDepth?: number;
}

export const DEFAULT_UBJSON_LIMITS: Required<UbjsonLimits> = { maxBytes: 512 * 1024 * 1024, maxDepth: 64 };

export class UbjsonError extends Error {
  /** Byte offset where the problem was found. */
  readonly offset: number;
  constructor(message: string, offset: number) {
    super(`UBJSON: ${message} (at byte ${offset})`);
    this.name = 'UbjsonError';
    this.offset = offset;
  }
}

const TYPED: Record<string, { size: number; make: (n: number) => UbjTypedArray; read: (v: DataView, o: number) => number | bigint }> = {
  d: { size: 4, make: (n) => new Float32Array(n), read: (v, o) => v.getFloat32(o) },
  D: { size: 8, make: (n) => new Float64Array(n), read: (v, o) => v.getFloat64(o) },
  i: { size: 1, make: (n) => new Int8Array(n), read: (v, o) => v.getInt8(o) },
  U: { size: 1, make: (n) => new Uint8Array(n), read: (v, o) => v.getUint8(o) },
  I: { size: 2, make: (n) => new Int16Array(n), read: (v, o) => v.getInt16(o) },
  l: { size: 4, make: (n) => new Int32Array(n), read: (v, o) => v.getInt32(o) },
  L: { size: 8, make: (n) => new BigInt64Array(n), read: (v, o) => v.getBigInt64(o) },
};

const utf8 = new TextDecoder('utf-8', { fatal: true });

class Reader {
  private pos = 0;
  private readonly view: DataView;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly maxDepth: number,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get remaining(): number {
    return this.bytes.length - this.pos;
  }

  private need(n: number, what: string): void {
    if (n > this.remaining) throw new UbjsonError(`truncated: ${what} needs ${n} bytes, ${this.remaining} remain`, this.pos);
  }

  private marker(what: string): string {
    this.need(1, what);
    return String.fromCharCode(this.bytes[this.pos++]);
  }

  private peek(): string {
    this.need(1, 'a marker');
    return String.fromCharCode(this.bytes[this.pos]);
  }

  /** An integer of the type `m` (the marker already read). */
  private integer(m: string, what: string): number | bigint {
    const start = this.pos;
    switch (m) {
      case 'i':
        this.need(1, what);
        return this.view.getInt8(this.pos++);
      case 'U':
        this.need(1, what);
        return this.view.getUint8(this.pos++);
      case 'I':
        this.need(2, what);
        this.pos += 2;
        return this.view.getInt16(start);
      case 'l':
        this.need(4, what);
        this.pos += 4;
        return this.view.getInt32(start);
      case 'L': {
        this.need(8, what);
        this.pos += 8;
        const v = this.view.getBigInt64(start);
        return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
      }
      default:
        throw new UbjsonError(`${what} must be an integer, found marker '${printable(m)}'`, this.pos - 1);
    }
  }

  /** A count or length: an integer marker and value, 0 ≤ n, n × unit ≤ the bytes remaining. */
  private count(what: string, unit: number): number {
    const at = this.pos;
    const n = this.integer(this.marker(what), what);
    if (typeof n === 'bigint' || n < 0) throw new UbjsonError(`${what} ${n} is out of range`, at);
    if (n * unit > this.remaining) {
      throw new UbjsonError(`${what} ${n} exceeds the ${this.remaining} bytes that remain`, at);
    }
    return n;
  }

  private string(what: string): string {
    const n = this.count(`${what} length`, 1);
    const at = this.pos;
    const slice = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    try {
      return utf8.decode(slice);
    } catch {
      throw new UbjsonError(`${what} is not valid UTF-8`, at);
    }
  }

  value(depth: number): UbjValue {
    let m = this.marker('a value');
    while (m === 'N') m = this.marker('a value'); // no-op padding
    return this.valueOf(m, depth);
  }

  private valueOf(m: string, depth: number): UbjValue {
    const at = this.pos - 1;
    switch (m) {
      case 'Z':
        return null;
      case 'T':
        return true;
      case 'F':
        return false;
      case 'i':
      case 'U':
      case 'I':
      case 'l':
      case 'L':
        return this.integer(m, 'an integer');
      case 'd':
        this.need(4, 'a float32');
        this.pos += 4;
        return this.view.getFloat32(at + 1);
      case 'D':
        this.need(8, 'a float64');
        this.pos += 8;
        return this.view.getFloat64(at + 1);
      case 'C': {
        this.need(1, 'a char');
        return String.fromCharCode(this.bytes[this.pos++]);
      }
      case 'S':
        return this.string('string');
      case 'H':
        throw new UbjsonError('high-precision numbers (H) are not supported', at);
      case '[':
        return this.array(depth + 1, at);
      case '{':
        return this.object(depth + 1, at);
      default:
        throw new UbjsonError(`unknown marker '${printable(m)}'`, at);
    }
  }

  private enter(depth: number, at: number): void {
    if (depth > this.maxDepth) throw new UbjsonError(`nesting deeper than ${this.maxDepth}`, at);
  }

  private array(depth: number, at: number): UbjValue {
    this.enter(depth, at);
    let next = this.peek();
    if (next === '$') {
      this.pos++;
      const typeAt = this.pos;
      const type = this.marker('the element type of a typed array');
      const spec = TYPED[type];
      if (spec === undefined) throw new UbjsonError(`typed arrays of '${printable(type)}' are not supported`, typeAt);
      if (this.marker("'#' after a typed array's type") !== '#') throw new UbjsonError("a typed array needs a count ('#')", this.pos - 1);
      const n = this.count('typed array count', spec.size);
      const out = spec.make(n);
      for (let i = 0; i < n; i++, this.pos += spec.size) (out as unknown as (number | bigint)[])[i] = spec.read(this.view, this.pos);
      return out;
    }
    const items: UbjValue[] = [];
    if (next === '#') {
      this.pos++;
      const n = this.count('array count', 1);
      for (let i = 0; i < n; i++) items.push(this.value(depth));
      return items;
    }
    for (;;) {
      next = this.peek();
      if (next === ']') {
        this.pos++;
        return items;
      }
      if (next === 'N') {
        this.pos++;
        continue;
      }
      items.push(this.value(depth));
    }
  }

  private object(depth: number, at: number): UbjObject {
    this.enter(depth, at);
    const out = Object.create(null) as UbjObject;
    const entry = (): void => {
      const keyAt = this.pos;
      const key = this.string('object key');
      if (Object.prototype.hasOwnProperty.call(out, key)) throw new UbjsonError(`duplicate key '${key}'`, keyAt);
      out[key] = this.value(depth);
    };
    let next = this.peek();
    if (next === '$') throw new UbjsonError('typed objects are not supported', this.pos);
    if (next === '#') {
      this.pos++;
      // Each entry takes at least 3 bytes: a key length marker and value, and a value marker.
      const n = this.count('object count', 3);
      for (let i = 0; i < n; i++) entry();
      return out;
    }
    for (;;) {
      next = this.peek();
      if (next === '}') {
        this.pos++;
        return out;
      }
      if (next === 'N') {
        this.pos++;
        continue;
      }
      entry();
    }
  }
}

function printable(m: string): string {
  const c = m.charCodeAt(0);
  return c >= 0x20 && c < 0x7f ? m : `0x${c.toString(16).padStart(2, '0')}`;
}

/** Parses one UBJSON value filling the whole input. Throws UbjsonError. */
export function parseUbjson(bytes: Uint8Array, limits: UbjsonLimits = {}): UbjValue {
  const maxBytes = limits.maxBytes ?? DEFAULT_UBJSON_LIMITS.maxBytes;
  const maxDepth = limits.maxDepth ?? DEFAULT_UBJSON_LIMITS.maxDepth;
  if (bytes.length > maxBytes) throw new UbjsonError(`input of ${bytes.length} bytes is larger than the limit of ${maxBytes}`, 0);
  if (bytes.length === 0) throw new UbjsonError('empty input', 0);
  const reader = new Reader(bytes, maxDepth);
  const value = reader.value(0);
  if (reader.remaining !== 0) throw new UbjsonError(`${reader.remaining} bytes after the value`, bytes.length - reader.remaining);
  return value;
}

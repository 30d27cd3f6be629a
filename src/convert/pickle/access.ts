// Typed reads of a rebuilt object's state, by attribute name. A converter states what it expects
// (`coef_` is a float array of rank 1 or 2, `classes_` an array of labels…); anything else fails
// with a LayoutError naming the object's path, its class and the attribute, so a pickle from an
// sklearn version whose layout differs is refused rather than guessed at.
import { shortClassName } from './allowlist.js';
import { numberOf, toFloat64, toValues } from './ndarray.js';
import { describe, typeName, type NdArray, type PyDict, type PyObject, type PyValue } from './values.js';

export class LayoutError extends Error {
  override readonly name = 'LayoutError';
}

/** A float64 matrix or vector in C order. */
export interface F64 { readonly values: Float64Array; readonly shape: readonly number[] }

/** Entries of a str-keyed dict (attribute dicts, kwargs). */
export function strEntries(d: PyDict): Map<string, PyValue> {
  const out = new Map<string, PyValue>();
  for (const { key, value } of d.entries.values()) if (key.kind === 'str') out.set(key.value, value);
  return out;
}

/** A read-only view of an instance of an allow-listed class, addressed by attribute name. */
export class PyObj {
  private readonly attrs: Map<string, PyValue>;

  private constructor(readonly value: PyObject, readonly path: string) {
    const st = value.state;
    // `__getstate__` of an ordinary object is its __dict__; with __slots__ it is (dict, slots).
    if (st?.kind === 'dict') this.attrs = strEntries(st);
    else if (st?.kind === 'tuple' && st.items.length === 2) {
      this.attrs = new Map();
      for (const part of st.items) if (part.kind === 'dict') for (const [k, v] of strEntries(part)) this.attrs.set(k, v);
    } else this.attrs = new Map();
  }

  /** `v` as an instance of one of `classes` (short names such as 'Pipeline'); else a LayoutError. */
  static of(v: PyValue, path: string, ...classes: string[]): PyObj {
    if (v.kind !== 'object') throw new LayoutError(`${path}: expected ${classes.length ? classes.join(' or ') : 'an object'}, found ${typeName(v)}`);
    const short = shortClassName(v.className);
    if (classes.length && !classes.includes(short)) {
      throw new LayoutError(`${path}: expected ${classes.join(' or ')}, found ${v.className}`);
    }
    return new PyObj(v, path);
  }

  get className(): string { return this.value.className; }
  get shortName(): string { return shortClassName(this.value.className); }
  /** Where this object sits in the model, for messages: `Pipeline.steps[1] (LogisticRegression)`. */
  get where(): string { return `${this.path} (${this.value.className})`; }
  get args(): readonly PyValue[] { return this.value.args; }

  fail(attr: string, problem: string): never {
    throw new LayoutError(`${this.where}: attribute '${attr}' ${problem}`);
  }

  has(name: string): boolean { return this.attrs.has(name); }
  /** The attribute names present, for diagnostics. */
  names(): string[] { return [...this.attrs.keys()]; }

  raw(name: string): PyValue {
    const v = this.attrs.get(name);
    if (v === undefined) this.fail(name, 'is missing (the estimator is not fitted, or was pickled by an sklearn version with another layout)');
    return v;
  }
  /** The attribute, or undefined when absent or None. */
  opt(name: string): PyValue | undefined {
    const v = this.attrs.get(name);
    return v === undefined || v.kind === 'none' ? undefined : v;
  }

  int(name: string): number {
    const v = this.raw(name);
    const n = numberOf(v);
    if (n === undefined || !Number.isInteger(n) || v.kind === 'float') this.fail(name, `is ${describe(v)}, expected an int`);
    return n;
  }
  float(name: string): number {
    const v = this.raw(name);
    const n = numberOf(v);
    if (n === undefined) this.fail(name, `is ${describe(v)}, expected a number`);
    return n;
  }
  str(name: string): string {
    const v = this.raw(name);
    if (v.kind !== 'str') this.fail(name, `is ${describe(v)}, expected a str`);
    return v.value;
  }
  bool(name: string): boolean {
    const v = this.raw(name);
    if (v.kind === 'bool') return v.value;
    const n = numberOf(v);
    if (n === 0 || n === 1) return n === 1;
    this.fail(name, `is ${describe(v)}, expected a bool`);
  }
  /** A str attribute that must be one of `allowed` (hyper-parameters that change the maths). */
  oneOf<T extends string>(name: string, allowed: readonly T[]): T {
    const s = this.str(name);
    if (!(allowed as readonly string[]).includes(s)) this.fail(name, `is '${s}', which Tessera does not convert (supported: ${allowed.join(', ')})`);
    return s as T;
  }

  array(name: string): NdArray {
    const v = this.raw(name);
    if (v.kind !== 'ndarray') this.fail(name, `is ${describe(v)}, expected a numpy array`);
    return v;
  }
  /** A numeric array (or number) as float64 in C order, with an optional rank check. */
  f64(name: string, ranks: readonly number[] = [0, 1, 2]): F64 {
    const v = this.raw(name);
    if (v.kind === 'ndarray') {
      if (!ranks.includes(v.shape.length)) this.fail(name, `has shape [${v.shape.join(', ')}], expected rank ${ranks.join(' or ')}`);
      try {
        return { values: toFloat64(v), shape: v.shape };
      } catch (e) {
        this.fail(name, `is not numeric: ${(e as Error).message}`);
      }
    }
    const n = numberOf(v);
    if (n !== undefined && ranks.includes(0)) return { values: Float64Array.of(n), shape: [] };
    this.fail(name, `is ${describe(v)}, expected a numeric array`);
  }
  /** Elements of an array, list or tuple attribute as Python values. */
  values(name: string): PyValue[] {
    const v = this.raw(name);
    if (v.kind === 'ndarray') {
      try { return toValues(v); } catch (e) { this.fail(name, (e as Error).message); }
    }
    if (v.kind === 'list' || v.kind === 'tuple') return [...v.items];
    this.fail(name, `is ${describe(v)}, expected an array or a list`);
  }
  /** A list or tuple attribute's items. */
  list(name: string): readonly PyValue[] {
    const v = this.raw(name);
    if (v.kind !== 'list' && v.kind !== 'tuple') this.fail(name, `is ${describe(v)}, expected a list`);
    return v.items;
  }
  /** A str-keyed dict attribute. */
  dict(name: string): Map<string, PyValue> {
    const v = this.raw(name);
    if (v.kind !== 'dict') this.fail(name, `is ${describe(v)}, expected a dict`);
    return strEntries(v);
  }
  /** An attribute that is itself an instance of one of `classes`. */
  obj(name: string, ...classes: string[]): PyObj {
    return PyObj.of(this.raw(name), `${this.path}.${name}`, ...classes);
  }
}

// numpy dtypes as data. A pickled dtype is `numpy.dtype(code, align, copy)` followed by BUILD with
// numpy's state tuple (version, byteorder, subarray, names, fields, elsize, alignment, flags
// [, metadata]); the reader mirrors both steps on this mutable record.
import { PickleError } from './limits.js';
import type { PyValue } from './values.js';

export type DTypeChar = 'b' | 'i' | 'u' | 'f' | 'c' | 'O' | 'U' | 'S' | 'V' | 'M' | 'm';

export interface DTypeField {
  readonly name: string;
  readonly dtype: DType;
  readonly offset: number;
}

export interface DType {
  readonly kind: 'dtype';
  char: DTypeChar;
  /** Bytes per element (for 'U', 4 per character). */
  itemsize: number;
  /** '<' little, '>' big, '|' not applicable. Native ('=') is resolved to '<'. */
  byteorder: '<' | '>' | '|';
  /** Structured dtype fields in declaration order (sklearn's tree `nodes`), else undefined. */
  fields?: DTypeField[];
  /** Sub-array dtype (`('<f8', (3,))`), else undefined. */
  subarray?: { base: DType; shape: number[] };
  /** Unit of datetime64 / timedelta64, e.g. 's', 'ns'. */
  unit?: string;
  /** numpy's `dtype.name`, e.g. 'float64', 'bool', 'object', 'str160', 'void56'. */
  readonly name: string;
  /** numpy's `dtype.str`, e.g. '<f8', '|b1', '|V56'. */
  readonly str: string;
}

const NAMED: Record<string, string> = {
  bool: 'b1', bool_: 'b1', int8: 'i1', int16: 'i2', int32: 'i4', int64: 'i8', uint8: 'u1', uint16: 'u2',
  uint32: 'u4', uint64: 'u8', float16: 'f2', half: 'f2', float32: 'f4', single: 'f4', float64: 'f8',
  double: 'f8', float: 'f8', int: 'i8', intp: 'i8', uintp: 'u8', complex64: 'c8', complex128: 'c16',
  complex: 'c16', object: 'O8', object_: 'O8', str: 'U0', str_: 'U0', unicode: 'U0', bytes: 'S0', bytes_: 'S0',
  void: 'V0', datetime64: 'M8', timedelta64: 'm8',
};
/** numpy's one-letter type codes (`np.dtype('d')`) mapped to kind+size. */
const TYPECODES: Record<string, string> = {
  '?': 'b1', b: 'i1', B: 'u1', h: 'i2', H: 'u2', i: 'i4', I: 'u4', l: 'i8', L: 'u8', q: 'i8', Q: 'u8',
  e: 'f2', f: 'f4', d: 'f8', F: 'c8', D: 'c16', O: 'O8', p: 'i8', P: 'u8',
};
const VALID_SIZES: Partial<Record<DTypeChar, number[]>> = {
  b: [1], i: [1, 2, 4, 8], u: [1, 2, 4, 8], f: [2, 4, 8], c: [8, 16], O: [4, 8], M: [8], m: [8],
};

function nameOf(char: DTypeChar, itemsize: number, unit?: string): string {
  switch (char) {
    case 'b': return 'bool';
    case 'i': return `int${itemsize * 8}`;
    case 'u': return `uint${itemsize * 8}`;
    case 'f': return `float${itemsize * 8}`;
    case 'c': return `complex${itemsize * 8}`;
    case 'O': return 'object';
    case 'U': return `str${itemsize * 8}`;
    case 'S': return `bytes${itemsize * 8}`;
    case 'V': return `void${itemsize * 8}`;
    case 'M': return unit ? `datetime64[${unit}]` : 'datetime64';
    case 'm': return unit ? `timedelta64[${unit}]` : 'timedelta64';
  }
}

/** Build a dtype record; `name`/`str` are derived, so keep them in sync via `refresh`. */
export function makeDType(char: DTypeChar, itemsize: number, byteorder: '<' | '>' | '|' = '<'): DType {
  const d = { kind: 'dtype', char, itemsize, byteorder } as DType & { name: string; str: string };
  refresh(d);
  return d;
}

function refresh(d: DType): void {
  const order = d.itemsize <= 1 || d.char === 'O' || d.char === 'V' || d.char === 'S' ? '|' : d.byteorder === '|' ? '<' : d.byteorder;
  if (d.char === 'U' && d.byteorder === '|') d.byteorder = '<';
  const code = d.char === 'U' ? `U${d.itemsize / 4}` : d.char === 'M' || d.char === 'm' ? `${d.char}8${d.unit ? `[${d.unit}]` : ''}` : `${d.char === 'b' ? 'b' : d.char}${d.itemsize}`;
  const m = d as { name: string; str: string };
  m.name = nameOf(d.char, d.itemsize, d.unit);
  m.str = `${order}${code}`;
}

/**
 * The dtype for numpy's constructor argument as pickled ('f8', '<i4', 'V56', 'U5', 'O8',
 * 'float64', 'd'…). Unknown codes are refused, naming the code.
 */
export function parseDTypeCode(code: string): DType {
  let order: '<' | '>' | '|' = '<';
  let body = code;
  if (/^[<>|=]/.test(body)) {
    order = body[0] === '>' ? '>' : body[0] === '|' ? '|' : '<';
    body = body.slice(1);
  }
  if (NAMED[body] !== undefined) body = NAMED[body];
  else if (TYPECODES[body] !== undefined) body = TYPECODES[body];
  const m = /^([biufcOUSVMm?])(\d*)(?:\[(\w+)\])?$/.exec(body);
  if (!m) throw new PickleError('UNSUPPORTED', `unsupported numpy dtype '${code}'`);
  const char = (m[1] === '?' ? 'b' : m[1]) as DTypeChar;
  let size = m[2] === '' ? (char === 'U' || char === 'S' || char === 'V' ? 0 : NaN) : Number(m[2]);
  if (char === 'U') size *= 4;
  const valid = VALID_SIZES[char];
  if (!Number.isSafeInteger(size) || (valid && !valid.includes(size))) {
    throw new PickleError('UNSUPPORTED', `unsupported numpy dtype '${code}' (no ${char}${m[2]} type)`);
  }
  const d = makeDType(char, size, order);
  if (m[3]) { d.unit = m[3]; refresh(d); }
  return d;
}

/** Apply numpy's dtype `__setstate__` tuple (versions 3 and 4, which numpy ≥ 1.x writes). */
export function applyDTypeState(d: DType, state: PyValue): void {
  if (state.kind !== 'tuple') throw new PickleError('MALFORMED', `numpy dtype state must be a tuple, got ${state.kind}`);
  const s = state.items;
  let endian: PyValue, subarray: PyValue, names: PyValue, fields: PyValue, elsize: PyValue, metadata: PyValue | undefined;
  if (s.length === 9 || s.length === 8) {
    [, endian, subarray, names, fields, elsize] = s;
    metadata = s.length === 9 ? s[8] : undefined;
  } else if (s.length === 7 || s.length === 6 || s.length === 5) {
    // Older layouts (numpy < 1.7 wrote version 0-2): (version, endian, subarray, names, fields, elsize, alignment[, flags]).
    endian = s[1];
    subarray = s[2];
    names = s.length >= 6 ? s[3] : { kind: 'none' };
    fields = s.length >= 6 ? s[4] : s[3];
    elsize = s.length >= 6 ? s[5] : s[4];
  } else {
    throw new PickleError('MALFORMED', `numpy dtype state has ${s.length} items; expected 8 or 9`);
  }
  if (endian.kind === 'str') {
    const e = endian.value;
    if (e === '>' ) d.byteorder = '>';
    else if (e === '<' || e === '=') d.byteorder = '<';
    else if (e === '|') d.byteorder = '|';
    else throw new PickleError('MALFORMED', `numpy dtype byte order '${e}' is not one of < > = |`);
  }
  if (elsize.kind === 'int' && typeof elsize.value === 'number' && elsize.value >= 0 && (d.char === 'V' || d.char === 'U' || d.char === 'S')) {
    d.itemsize = elsize.value;
  }
  if (subarray.kind === 'tuple') {
    const [base, shape] = subarray.items;
    if (base?.kind !== 'dtype' || shape?.kind !== 'tuple') throw new PickleError('MALFORMED', 'numpy dtype sub-array state is not (dtype, shape)');
    d.subarray = { base, shape: shape.items.map((x) => intOf(x, 'sub-array dimension')) };
  }
  if (names.kind === 'tuple') {
    if (fields.kind !== 'dict') throw new PickleError('MALFORMED', 'numpy structured dtype has names but no fields dict');
    const list: DTypeField[] = [];
    for (const n of names.items) {
      if (n.kind !== 'str') throw new PickleError('MALFORMED', 'numpy structured dtype field name is not a str');
      const entry = fields.entries.get(`s:${n.value}`)?.value;
      if (entry?.kind !== 'tuple' || entry.items.length < 2 || entry.items[0].kind !== 'dtype') {
        throw new PickleError('MALFORMED', `numpy structured dtype field '${n.value}' is not (dtype, offset)`);
      }
      const fieldType = entry.items[0] as DType;
      const offset = intOf(entry.items[1], `offset of field '${n.value}'`);
      if (offset < 0 || offset + fieldType.itemsize > d.itemsize) {
        throw new PickleError('MALFORMED', `numpy structured dtype field '${n.value}' (offset ${offset}, ${fieldType.itemsize} bytes) lies outside its ${d.itemsize}-byte record`);
      }
      list.push({ name: n.value, dtype: fieldType, offset });
    }
    d.fields = list;
  }
  if ((d.char === 'M' || d.char === 'm') && metadata?.kind === 'tuple') {
    const unit = metadata.items[1];
    if (unit?.kind === 'tuple' && unit.items[0]?.kind === 'str') d.unit = unit.items[0].value;
  }
  refresh(d);
}

function intOf(v: PyValue | undefined, what: string): number {
  if (v?.kind === 'int' && typeof v.value === 'number') return v.value;
  throw new PickleError('MALFORMED', `numpy dtype ${what} is not a small int`);
}

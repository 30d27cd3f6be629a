// The pickle interpreter: runs the opcodes of protocols 0-5 but only ever builds data. Globals are
// looked up in the allow-list (allowlist.ts) and anything else stops the load naming the global;
// "calls" (REDUCE, NEWOBJ, INST, OBJ, BUILD) are recorded as data or, for numpy/builtin
// reconstructors, re-implemented here as pure transforms. Every allocation is preceded by a check
// against the bytes that remain or against a limit (limits.ts).
import { resolveGlobal, type AllowedGlobal } from './allowlist.js';
import { applyDTypeState, parseDTypeCode, type DType } from './dtype.js';
import { DEFAULT_PICKLE_LIMITS, PickleError, limitError, type PickleLimits } from './limits.js';
import { decodeArrayBytes, elementCount, byteLength } from './ndarray.js';
import {
  PY_FALSE, PY_NONE, PY_TRUE, depthOf, hashKey, newDict, pyFloat, pyInt, pyStr, typeName,
  type NdArray, type PyDict, type PyGlobal, type PyList, type PyObject, type PySet, type PyValue,
} from './values.js';

export interface ReadPickleOptions {
  limits?: Partial<PickleLimits>;
  /** Out-of-band buffers for protocol 5's NEXT_BUFFER, in order. */
  buffers?: readonly Uint8Array[];
  /**
   * Read joblib's NumpyArrayWrapper layout (array bytes following the wrapper's BUILD in the same
   * stream). Default true: the wrapper class appears only in joblib files.
   */
  joblibArrays?: boolean;
}

/** Shared across a pickle and the pickles nested in it (joblib object arrays). */
interface RunContext {
  readonly limits: PickleLimits;
  opcodes: number;
  nested: number;
  readonly buffers: readonly Uint8Array[];
  nextBuffer: number;
}

const JOBLIB_WRAPPER = /^(?:sklearn\.externals\.)?joblib\.numpy_pickle\.NumpyArrayWrapper$/;

/** Read one pickle from `bytes` and return the value it builds. Throws PickleError. */
export function readPickle(bytes: Uint8Array, options: ReadPickleOptions = {}): PyValue {
  const limits = { ...DEFAULT_PICKLE_LIMITS, ...options.limits };
  if (bytes.length > limits.maxInputBytes) {
    throw limitError('maxInputBytes', `input is ${bytes.length} bytes, more than ${limits.maxInputBytes}`);
  }
  const ctx: RunContext = { limits, opcodes: 0, nested: 0, buffers: options.buffers ?? [], nextBuffer: 0 };
  return new Machine(bytes, 0, ctx, options.joblibArrays ?? true).run().value;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

class Machine {
  private pos: number;
  private stack: PyValue[] = [];
  private readonly meta: PyValue[][] = [];
  private metaSize = 0;
  private readonly memo = new Map<number, PyValue>();
  /** Arrays rebuilt from joblib wrappers, so a memo reference to the wrapper yields the array. */
  private readonly wrapperArrays = new WeakMap<object, NdArray>();
  /** Arrays from `_reconstruct` awaiting their BUILD state. */
  private readonly pendingArrays = new WeakSet<object>();
  private opStart = 0;
  private proto = 0;

  constructor(private readonly bytes: Uint8Array, start: number, private readonly ctx: RunContext, private readonly joblib: boolean) {
    this.pos = start;
  }

  // ---- errors and raw reads ------------------------------------------------------------------

  private fail(code: PickleError['code'], message: string): never {
    throw new PickleError(code, message, this.opStart);
  }

  private remaining(): number {
    return this.bytes.length - this.pos;
  }

  /** Consume `n` bytes that the opcode itself needs (fixed-size arguments). */
  private take(n: number, what: string): Uint8Array {
    if (n > this.remaining()) {
      this.fail('TRUNCATED', `pickle is truncated: ${what} needs ${n} bytes but only ${this.remaining()} remain`);
    }
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** Consume a declared length's worth of bytes; the length is checked before anything is allocated. */
  private takeDeclared(n: number | bigint, what: string): Uint8Array {
    if (typeof n === 'bigint' || n < 0 || n > this.remaining()) {
      this.fail('TRUNCATED', `pickle is truncated or corrupt: ${what} declares a length of ${n} bytes but only ${this.remaining()} remain in the input`);
    }
    return this.take(n, what);
  }

  private u8(): number { return this.take(1, 'opcode argument')[0]; }
  private u16(): number { const b = this.take(2, 'opcode argument'); return b[0] | (b[1] << 8); }
  private u32(): number { const b = this.take(4, 'opcode argument'); return (b[0] | (b[1] << 8) | (b[2] << 16)) + b[3] * 0x1000000; }
  private i32(): number { const b = this.take(4, 'opcode argument'); return b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24); }
  private u64(): number | bigint {
    const b = this.take(8, 'opcode argument');
    const v = new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true);
    return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  }

  /** A text line (protocol 0 arguments), without its newline. */
  private line(what: string, maxLength = 1 << 20): string {
    const end = this.bytes.indexOf(0x0a, this.pos);
    if (end < 0) this.fail('TRUNCATED', `pickle is truncated: ${what} has no terminating newline`);
    if (end - this.pos > maxLength) this.fail('LIMIT', `pickle ${what} line is longer than ${maxLength} bytes`);
    const s = Buffer.from(this.bytes.buffer, this.bytes.byteOffset + this.pos, end - this.pos).toString('latin1');
    this.pos = end + 1;
    return s;
  }

  private utf8(b: Uint8Array): string {
    return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8');
  }

  // ---- stack ---------------------------------------------------------------------------------

  private push(v: PyValue): void {
    if (this.stack.length + this.metaSize >= this.ctx.limits.maxStackSize) {
      throw limitError('maxStackSize', `more than ${this.ctx.limits.maxStackSize} values on the stack`, this.opStart);
    }
    this.stack.push(v);
  }

  private pop(): PyValue {
    const v = this.stack.pop();
    if (v === undefined) this.fail('MALFORMED', 'pickle pops from an empty stack');
    return v;
  }

  private top(): PyValue {
    const v = this.stack[this.stack.length - 1];
    if (v === undefined) this.fail('MALFORMED', 'pickle reads the top of an empty stack');
    return v;
  }

  private mark(): void {
    if (this.meta.length >= this.ctx.limits.maxDepth) {
      throw limitError('maxDepth', `more than ${this.ctx.limits.maxDepth} nested MARKs`, this.opStart);
    }
    this.meta.push(this.stack);
    this.metaSize += this.stack.length;
    this.stack = [];
  }

  private popMark(): PyValue[] {
    const items = this.stack;
    const prev = this.meta.pop();
    if (prev === undefined) this.fail('MALFORMED', 'pickle uses a MARK that was never set');
    this.metaSize -= prev.length;
    this.stack = prev;
    return items;
  }

  private checkDepth(depth: number): number {
    if (depth > this.ctx.limits.maxDepth) {
      throw limitError('maxDepth', `data nested more than ${this.ctx.limits.maxDepth} levels deep`, this.opStart);
    }
    return depth;
  }

  private containerDepth(items: readonly PyValue[]): number {
    let d = 0;
    for (const x of items) d = Math.max(d, depthOf(x));
    return this.checkDepth(d + 1);
  }

  private memoPut(index: number, v: PyValue): void {
    if (!this.memo.has(index) && this.memo.size >= this.ctx.limits.maxMemoEntries) {
      throw limitError('maxMemoEntries', `more than ${this.ctx.limits.maxMemoEntries} memo entries`, this.opStart);
    }
    this.memo.set(index, v);
  }

  private memoGet(index: number): PyValue {
    const v = this.memo.get(index);
    if (v === undefined) this.fail('MALFORMED', `pickle reads memo entry ${index}, which was never stored`);
    if (v.kind === 'object') {
      const arr = this.wrapperArrays.get(v);
      if (arr) return arr;
    }
    return v;
  }

  // ---- the loop ------------------------------------------------------------------------------

  run(): { value: PyValue; end: number } {
    const limits = this.ctx.limits;
    for (;;) {
      if (this.pos >= this.bytes.length) {
        this.opStart = this.pos;
        this.fail('TRUNCATED', 'pickle is truncated: the stream ends before its STOP opcode');
      }
      if (++this.ctx.opcodes > limits.maxOpcodes) {
        throw limitError('maxOpcodes', `more than ${limits.maxOpcodes} opcodes`, this.pos);
      }
      this.opStart = this.pos;
      const op = this.bytes[this.pos++];
      if (op === 0x2e /* STOP . */) {
        const value = this.pop();
        return { value, end: this.pos };
      }
      this.step(op);
    }
  }

  private step(op: number): void {
    switch (op) {
      // -- framing and protocol
      case 0x80: { // PROTO
        const v = this.u8();
        if (v > 5) this.fail('UNSUPPORTED', `pickle protocol ${v} is not supported (0-5 are)`);
        this.proto = v;
        return;
      }
      case 0x95: { // FRAME: the frame's bytes are simply the following opcodes
        const n = this.u64();
        if (typeof n === 'bigint' || n > this.remaining()) {
          this.fail('TRUNCATED', `pickle is truncated or corrupt: FRAME declares a length of ${n} bytes but only ${this.remaining()} remain in the input`);
        }
        return;
      }
      // -- marks and stack
      case 0x28: this.mark(); return; // MARK (
      case 0x30: if (this.stack.length) this.pop(); else this.popMark(); return; // POP 0
      case 0x31: this.popMark(); return; // POP_MARK 1
      case 0x32: this.push(this.top()); return; // DUP 2
      // -- constants and numbers
      case 0x4e: this.push(PY_NONE); return; // NONE N
      case 0x88: this.push(PY_TRUE); return; // NEWTRUE
      case 0x89: this.push(PY_FALSE); return; // NEWFALSE
      case 0x4b: this.push(pyInt(this.u8())); return; // BININT1 K
      case 0x4d: this.push(pyInt(this.u16())); return; // BININT2 M
      case 0x4a: this.push(pyInt(this.i32())); return; // BININT J
      case 0x8a: this.push(this.long(this.u8())); return; // LONG1
      case 0x8b: { // LONG4
        const n = this.i32();
        if (n < 0) this.fail('MALFORMED', `LONG4 has a negative length ${n}`);
        this.push(this.long(n));
        return;
      }
      case 0x47: { // BINFLOAT G (big-endian double)
        const b = this.take(8, 'BINFLOAT');
        this.push(pyFloat(new DataView(b.buffer, b.byteOffset, 8).getFloat64(0, false)));
        return;
      }
      case 0x49: this.push(this.textInt(this.line('INT', this.ctx.limits.maxIntBytes + 2))); return; // INT I
      case 0x4c: this.push(this.textInt(this.line('LONG', this.ctx.limits.maxIntBytes + 2).replace(/L$/, ''))); return; // LONG L
      case 0x46: { // FLOAT F
        const s = this.line('FLOAT', 64).trim();
        const v = /^[-+]?(?:inf|infinity)$/i.test(s) ? (s.startsWith('-') ? -Infinity : Infinity) : /^[-+]?nan$/i.test(s) ? NaN : Number(s);
        if (Number.isNaN(v) && !/nan/i.test(s)) this.fail('MALFORMED', `FLOAT argument '${s}' is not a number`);
        this.push(pyFloat(v));
        return;
      }
      // -- strings and bytes
      case 0x8c: this.push(pyStr(this.utf8(this.takeDeclared(this.u8(), 'SHORT_BINUNICODE')))); return;
      case 0x58: this.push(pyStr(this.utf8(this.takeDeclared(this.u32(), 'BINUNICODE')))); return; // X
      case 0x8d: this.push(pyStr(this.utf8(this.takeDeclared(this.u64(), 'BINUNICODE8')))); return;
      case 0x56: this.push(pyStr(rawUnicodeEscape(this.line('UNICODE')))); return; // V
      case 0x43: this.push(this.bytesValue(this.takeDeclared(this.u8(), 'SHORT_BINBYTES'), false)); return; // C
      case 0x42: this.push(this.bytesValue(this.takeDeclared(this.u32(), 'BINBYTES'), false)); return; // B
      case 0x8e: this.push(this.bytesValue(this.takeDeclared(this.u64(), 'BINBYTES8'), false)); return;
      case 0x96: this.push(this.bytesValue(this.takeDeclared(this.u64(), 'BYTEARRAY8'), true)); return;
      // Python 2 str: decoded as latin-1 text (the encoding numpy/sklearn pickles need).
      case 0x55: this.push(pyStr(latin1(this.takeDeclared(this.u8(), 'SHORT_BINSTRING')))); return; // U
      case 0x54: { // BINSTRING T
        const n = this.i32();
        this.push(pyStr(latin1(this.takeDeclared(n, 'BINSTRING'))));
        return;
      }
      case 0x53: this.push(pyStr(pythonStringLiteral(this.line('STRING'), (m) => this.fail('MALFORMED', m)))); return; // S
      case 0x97: { // NEXT_BUFFER
        const b = this.ctx.buffers[this.ctx.nextBuffer];
        if (!b) this.fail('MALFORMED', `pickle asks for out-of-band buffer ${this.ctx.nextBuffer} but ${this.ctx.buffers.length} were given`);
        this.ctx.nextBuffer++;
        this.push({ kind: 'picklebuffer', value: b, readonly: false });
        return;
      }
      case 0x98: { // READONLY_BUFFER
        const v = this.pop();
        if (v.kind === 'picklebuffer') this.push({ ...v, readonly: true });
        else if (v.kind === 'bytes') this.push({ ...v, mutable: false });
        else this.fail('MALFORMED', `READONLY_BUFFER applied to a ${typeName(v)}`);
        return;
      }
      // -- containers
      case 0x29: this.push({ kind: 'tuple', items: [], depth: 1 }); return; // EMPTY_TUPLE )
      case 0x85: this.tupleOf(1); return; // TUPLE1
      case 0x86: this.tupleOf(2); return; // TUPLE2
      case 0x87: this.tupleOf(3); return; // TUPLE3
      case 0x74: { const items = this.popMark(); this.push({ kind: 'tuple', items, depth: this.containerDepth(items) }); return; } // TUPLE t
      case 0x5d: this.push({ kind: 'list', items: [], depth: 1 }); return; // EMPTY_LIST ]
      case 0x6c: { const items = this.popMark(); this.push({ kind: 'list', items, depth: this.containerDepth(items) }); return; } // LIST l
      case 0x7d: this.push(newDict()); return; // EMPTY_DICT }
      case 0x64: { const items = this.popMark(); const d = newDict(); this.setItems(d, items); this.push(d); return; } // DICT d
      case 0x8f: this.push({ kind: 'set', items: new Map(), frozen: false, depth: 1 }); return; // EMPTY_SET
      case 0x91: { // FROZENSET
        const items = this.popMark();
        const s: PySet = { kind: 'set', items: new Map(), frozen: true, depth: 1 };
        this.addItems(s, items);
        this.push(s);
        return;
      }
      case 0x61: { const item = this.pop(); this.appendItems(this.top(), [item]); return; } // APPEND a
      case 0x65: { const items = this.popMark(); this.appendItems(this.top(), items); return; } // APPENDS e
      case 0x73: { const value = this.pop(); const key = this.pop(); this.setItemsOn(this.top(), [key, value]); return; } // SETITEM s
      case 0x75: { const items = this.popMark(); this.setItemsOn(this.top(), items); return; } // SETITEMS u
      case 0x90: { // ADDITEMS
        const items = this.popMark();
        const s = this.top();
        if (s.kind !== 'set' || s.frozen) this.fail('MALFORMED', `ADDITEMS applied to a ${typeName(s)}`);
        this.addItems(s, items);
        return;
      }
      // -- memo
      case 0x94: this.memoPut(this.memo.size, this.top()); return; // MEMOIZE
      case 0x71: this.memoPut(this.u8(), this.top()); return; // BINPUT q
      case 0x72: this.memoPut(this.u32(), this.top()); return; // LONG_BINPUT r
      case 0x70: this.memoPut(this.memoIndex(this.line('PUT', 24)), this.top()); return; // PUT p
      case 0x68: this.push(this.memoGet(this.u8())); return; // BINGET h
      case 0x6a: this.push(this.memoGet(this.u32())); return; // LONG_BINGET j
      case 0x67: this.push(this.memoGet(this.memoIndex(this.line('GET', 24)))); return; // GET g
      // -- globals and object construction
      case 0x63: { // GLOBAL c
        const module = this.line('GLOBAL module', 1024);
        const name = this.line('GLOBAL name', 1024);
        this.push(this.global(module, name));
        return;
      }
      case 0x93: { // STACK_GLOBAL
        const name = this.pop();
        const module = this.pop();
        if (module.kind !== 'str' || name.kind !== 'str') this.fail('MALFORMED', 'STACK_GLOBAL needs two str values');
        this.push(this.global(module.value, name.value));
        return;
      }
      case 0x52: { // REDUCE R
        const args = this.pop();
        const callable = this.pop();
        if (args.kind !== 'tuple') this.fail('MALFORMED', `REDUCE arguments are a ${typeName(args)}, not a tuple`);
        this.push(this.call(callable, args.items));
        return;
      }
      case 0x81: { // NEWOBJ
        const args = this.pop();
        const cls = this.pop();
        if (args.kind !== 'tuple') this.fail('MALFORMED', `NEWOBJ arguments are a ${typeName(args)}, not a tuple`);
        this.push(this.newObject(cls, args.items));
        return;
      }
      case 0x92: { // NEWOBJ_EX
        const kwargs = this.pop();
        const args = this.pop();
        const cls = this.pop();
        if (args.kind !== 'tuple' || kwargs.kind !== 'dict') this.fail('MALFORMED', 'NEWOBJ_EX needs a tuple and a dict');
        this.push(this.newObject(cls, args.items, kwargs));
        return;
      }
      case 0x69: { // INST i
        const module = this.line('INST module', 1024);
        const name = this.line('INST name', 1024);
        const cls = this.global(module, name);
        const args = this.popMark();
        this.push(this.call(cls, args));
        return;
      }
      case 0x6f: { // OBJ o
        const items = this.popMark();
        const cls = items.shift();
        if (!cls) this.fail('MALFORMED', 'OBJ without a class');
        this.push(this.call(cls, items));
        return;
      }
      case 0x62: this.build(); return; // BUILD b
      case 0x82: case 0x83: case 0x84: { // EXT1 EXT2 EXT4
        const code = op === 0x82 ? this.u8() : op === 0x83 ? this.u16() : this.i32();
        this.fail('FORBIDDEN_GLOBAL', `pickle refers to extension code ${code} (copyreg extension registry); no extensions are allowed`);
      }
      case 0x50: case 0x51: // PERSID P, BINPERSID Q
        this.fail('UNSUPPORTED', 'pickle uses persistent ids (PERSID/BINPERSID), which a model file cannot resolve');
      default:
        this.fail('UNSUPPORTED', `unknown pickle opcode 0x${op.toString(16).padStart(2, '0')}`);
    }
  }

  // ---- values --------------------------------------------------------------------------------

  private long(n: number): PyValue {
    if (n > this.ctx.limits.maxIntBytes) {
      throw limitError('maxIntBytes', `an integer of ${n} bytes is larger than ${this.ctx.limits.maxIntBytes}`, this.opStart);
    }
    const b = this.takeDeclared(n, 'LONG');
    if (n === 0) return pyInt(0);
    let v = 0n;
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    if (b[n - 1] & 0x80) v -= 1n << BigInt(8 * n);
    return pyInt(v);
  }

  private textInt(s: string): PyValue {
    const t = s.trim();
    if (t === '01') return PY_TRUE; // protocol 0 writes booleans as INT 01 / 00
    if (t === '00') return PY_FALSE;
    if (!/^[-+]?\d+$/.test(t)) this.fail('MALFORMED', `INT/LONG argument '${t.slice(0, 40)}' is not an integer`);
    return pyInt(BigInt(t));
  }

  private memoIndex(s: string): number {
    const n = Number(s.trim());
    if (!Number.isSafeInteger(n) || n < 0) this.fail('MALFORMED', `memo index '${s.slice(0, 30)}' is not a non-negative integer`);
    return n;
  }

  /** A view into the input (never mutated; numpy arrays copy their bytes once, aligned, when decoded). */
  private bytesValue(b: Uint8Array, mutable: boolean): PyValue {
    return { kind: 'bytes', value: b, mutable };
  }

  private tupleOf(n: number): void {
    if (this.stack.length < n) this.fail('MALFORMED', `TUPLE${n} needs ${n} values on the stack`);
    const items = this.stack.splice(this.stack.length - n, n);
    this.push({ kind: 'tuple', items, depth: this.containerDepth(items) });
  }

  private appendItems(target: PyValue, items: PyValue[]): void {
    if (target.kind === 'list') {
      for (const it of items) target.items.push(it);
      target.depth = Math.max(target.depth, this.containerDepth(items));
      return;
    }
    if (target.kind === 'object') {
      (target.listItems ??= []).push(...items);
      target.depth = Math.max(target.depth, this.containerDepth(items));
      return;
    }
    this.fail('MALFORMED', `APPEND applied to a ${typeName(target)}`);
  }

  private setItemsOn(target: PyValue, flat: PyValue[]): void {
    if (target.kind === 'dict') { this.setItems(target, flat); return; }
    if (target.kind === 'object') {
      target.dictItems ??= newDict();
      this.setItems(target.dictItems, flat);
      target.depth = Math.max(target.depth, this.checkDepth(target.dictItems.depth + 1));
      return;
    }
    this.fail('MALFORMED', `SETITEM applied to a ${typeName(target)}`);
  }

  private setItems(d: PyDict, flat: PyValue[]): void {
    if (flat.length % 2) this.fail('MALFORMED', 'SETITEMS/DICT has an odd number of values');
    for (let i = 0; i < flat.length; i += 2) {
      const key = flat[i];
      const value = flat[i + 1];
      d.entries.set(this.hash(key), { key, value });
    }
    d.depth = Math.max(d.depth, this.containerDepth(flat));
  }

  private addItems(s: PySet, items: PyValue[]): void {
    for (const it of items) s.items.set(this.hash(it), it);
    s.depth = Math.max(s.depth, this.containerDepth(items));
  }

  private hash(key: PyValue): string {
    try {
      return hashKey(key);
    } catch (e) {
      this.fail('MALFORMED', (e as Error).message);
    }
  }

  // ---- globals, calls, BUILD -----------------------------------------------------------------

  private global(module: string, name: string): PyGlobal {
    const g = resolveGlobal(module, name);
    if (!g) {
      this.fail('FORBIDDEN_GLOBAL', `pickle refers to '${module}.${name}', which is not on the allow-list of classes Tessera can rebuild`);
    }
    return { kind: 'global', module: g.module, name: g.name };
  }

  private allowed(v: PyValue, what: string): AllowedGlobal {
    if (v.kind !== 'global') this.fail('MALFORMED', `${what} applied to a ${typeName(v)}, not a class or function`);
    const g = resolveGlobal(v.module, v.name);
    if (!g) this.fail('FORBIDDEN_GLOBAL', `'${v.module}.${v.name}' is not on the allow-list`);
    return g;
  }

  private record(g: AllowedGlobal, via: 'call' | 'new', args: readonly PyValue[], kwargs?: PyDict): PyObject {
    const depth = this.containerDepth(kwargs ? [...args, kwargs] : args);
    const o: PyObject = { kind: 'object', className: `${g.module}.${g.name}`, via, args, depth };
    if (kwargs) (o as Mutable<PyObject>).kwargs = kwargs;
    return o;
  }

  /** REDUCE / INST / OBJ: `callable(*args)`, as data. */
  private call(callable: PyValue, args: readonly PyValue[]): PyValue {
    const g = this.allowed(callable, 'a call');
    switch (g.type) {
      case 'class': case 'record': return this.record(g, 'call', args);
      case 'reference': this.fail('FORBIDDEN_GLOBAL', `'${g.module}.${g.name}' may be referenced but a pickle may not call it`);
      case 'native': return this.native(g.id, args);
    }
  }

  /** NEWOBJ / NEWOBJ_EX: `cls.__new__(cls, *args, **kwargs)`, as data. */
  private newObject(cls: PyValue, args: readonly PyValue[], kwargs?: PyDict): PyValue {
    const g = this.allowed(cls, 'NEWOBJ');
    if (g.type === 'class') return this.record(g, 'new', args, kwargs && kwargs.entries.size ? kwargs : undefined);
    if (g.type === 'native') {
      switch (g.id) {
        case 'collections.OrderedDict': return newDict('collections.OrderedDict');
        case 'builtins.dict': return newDict();
        case 'builtins.list': return { kind: 'list', items: [], depth: 1 };
        case 'builtins.set': return { kind: 'set', items: new Map(), frozen: false, depth: 1 };
        default: break;
      }
    }
    this.fail('FORBIDDEN_GLOBAL', `'${g.module}.${g.name}' cannot be created with NEWOBJ`);
  }

  private native(id: string, args: readonly PyValue[]): PyValue {
    const arg = (i: number): PyValue => args[i] ?? PY_NONE;
    switch (id) {
      case 'numpy.dtype': {
        const code = arg(0);
        if (code.kind === 'dtype') return { ...code };
        if (code.kind !== 'str') this.fail('MALFORMED', `numpy.dtype() of a ${typeName(code)}`);
        return this.wrap(() => parseDTypeCode(code.value));
      }
      case 'numpy._reconstruct': {
        const sub = arg(0);
        if (sub.kind !== 'global' || sub.module !== 'numpy' || sub.name !== 'ndarray') {
          this.fail('FORBIDDEN_GLOBAL', `numpy _reconstruct of ${typeName(sub)}: only numpy.ndarray is allowed`);
        }
        const placeholder = { kind: 'ndarray', dtype: parseDTypeCode('b1'), shape: [0], order: 'C', data: { type: 'bool', values: new Uint8Array(0) } } as NdArray;
        this.pendingArrays.add(placeholder);
        return placeholder;
      }
      case 'numpy.scalar': {
        const dtype = arg(0);
        const data = arg(1);
        if (dtype.kind !== 'dtype') this.fail('MALFORMED', `numpy scalar with a ${typeName(dtype)} for its dtype`);
        if (dtype.char === 'O') return data; // an object scalar is the object itself
        const raw = data.kind === 'bytes' ? data.value : data.kind === 'str' ? latin1Bytes(data.value) : undefined;
        if (!raw) this.fail('MALFORMED', `numpy scalar data is a ${typeName(data)}, not bytes`);
        return { kind: 'scalar', array: this.array(dtype, [], 'C', raw) };
      }
      case 'numpy._frombuffer': {
        const [buf, dtype, shape, order] = [arg(0), arg(1), arg(2), arg(3)];
        const raw = buf.kind === 'picklebuffer' || buf.kind === 'bytes' ? buf.value : this.fail('MALFORMED', `numpy _frombuffer of a ${typeName(buf)}`);
        if (dtype.kind !== 'dtype') this.fail('MALFORMED', `numpy _frombuffer with a ${typeName(dtype)} for its dtype`);
        if (dtype.char === 'O') this.fail('MALFORMED', 'numpy _frombuffer cannot carry an object array');
        return this.array(dtype, this.shapeOf(shape), order.kind === 'str' && order.value === 'F' ? 'F' : 'C', raw);
      }
      case 'copyreg._reconstructor': {
        const [cls, base, state] = [arg(0), arg(1), arg(2)];
        const g = this.allowed(cls, 'copyreg._reconstructor');
        if (g.type !== 'class') this.fail('FORBIDDEN_GLOBAL', `copyreg._reconstructor of '${g.module}.${g.name}', which is not an allowed class`);
        if (base.kind !== 'global' || base.module !== 'builtins' || base.name !== 'object' || state.kind !== 'none') {
          this.fail('UNSUPPORTED', `copyreg._reconstructor of '${g.module}.${g.name}' with base ${typeName(base)}: only plain objects are supported`);
        }
        return this.record(g, 'new', []);
      }
      case 'collections.OrderedDict': case 'builtins.dict': {
        const d = newDict(id === 'collections.OrderedDict' ? 'collections.OrderedDict' : undefined);
        const src = arg(0);
        if (src.kind === 'list' || src.kind === 'tuple') {
          for (const pair of src.items) {
            if ((pair.kind !== 'tuple' && pair.kind !== 'list') || pair.items.length !== 2) this.fail('MALFORMED', `${id}() item is not a pair`);
            this.setItems(d, [pair.items[0], pair.items[1]]);
          }
        } else if (src.kind === 'dict') {
          for (const e of src.entries.values()) this.setItems(d, [e.key, e.value]);
        } else if (src.kind !== 'none') this.fail('MALFORMED', `${id}() of a ${typeName(src)}`);
        return d;
      }
      case 'builtins.set': case 'builtins.frozenset': {
        const s: PySet = { kind: 'set', items: new Map(), frozen: id === 'builtins.frozenset', depth: 1 };
        const src = arg(0);
        if (src.kind === 'list' || src.kind === 'tuple') this.addItems(s, [...src.items]);
        else if (src.kind !== 'none') this.fail('MALFORMED', `${id}() of a ${typeName(src)}`);
        return s;
      }
      case 'builtins.list': case 'builtins.tuple': {
        const src = arg(0);
        const items = src.kind === 'list' || src.kind === 'tuple' ? [...src.items] : src.kind === 'none' ? [] : this.fail('MALFORMED', `${id}() of a ${typeName(src)}`);
        return id === 'builtins.list' ? { kind: 'list', items, depth: this.containerDepth(items) } : { kind: 'tuple', items, depth: this.containerDepth(items) };
      }
      case 'builtins.bytearray': case 'builtins.bytes': {
        const src = arg(0);
        const mutable = id === 'builtins.bytearray';
        if (src.kind === 'none') return { kind: 'bytes', value: new Uint8Array(0), mutable };
        if (src.kind === 'bytes') return { kind: 'bytes', value: src.value.slice(), mutable };
        if (src.kind === 'str') return { kind: 'bytes', value: this.encode(src.value, arg(1)), mutable };
        this.fail('MALFORMED', `${id}() of a ${typeName(src)}`);
      }
      case '_codecs.encode': {
        const s = arg(0);
        if (s.kind !== 'str') this.fail('MALFORMED', `_codecs.encode of a ${typeName(s)}`);
        return { kind: 'bytes', value: this.encode(s.value, arg(1)), mutable: false };
      }
      case 'builtins.slice': {
        const [a, b, c] = args.length === 1 ? [PY_NONE, arg(0), PY_NONE] : [arg(0), arg(1), arg(2)];
        return { kind: 'slice', start: a, stop: b, step: c };
      }
      case 'builtins.complex': {
        const re = arg(0); const im = arg(1);
        const num = (v: PyValue) => (v.kind === 'float' ? v.value : v.kind === 'int' ? Number(v.value) : v.kind === 'none' ? 0 : this.fail('MALFORMED', 'complex() of a non-number'));
        return { kind: 'complex', real: num(re), imag: num(im) };
      }
      default:
        this.fail('FORBIDDEN_GLOBAL', `'${id}' cannot be called by a pickle`);
    }
  }

  private encode(s: string, encoding: PyValue): Uint8Array {
    const enc = encoding.kind === 'str' ? encoding.value.toLowerCase().replace(/[-_]/g, '') : 'utf8';
    if (enc === 'latin1' || enc === 'iso88591' || enc === 'l1') {
      const out = latin1Bytes(s);
      if (out === undefined) this.fail('MALFORMED', 'latin-1 encoding of a str with code points above 255');
      return out;
    }
    if (enc === 'utf8') return new Uint8Array(Buffer.from(s, 'utf8'));
    this.fail('UNSUPPORTED', `encoding '${encoding.kind === 'str' ? encoding.value : '?'}' in a pickle is not supported`);
  }

  private shapeOf(v: PyValue): number[] {
    if (v.kind === 'int' && typeof v.value === 'number') return [v.value];
    if (v.kind !== 'tuple' && v.kind !== 'list') this.fail('MALFORMED', `array shape is a ${typeName(v)}`);
    return v.items.map((d) => {
      if (d.kind !== 'int' || typeof d.value !== 'number' || d.value < 0) this.fail('MALFORMED', 'array dimension is not a non-negative int');
      return d.value;
    });
  }

  private wrap<T>(f: () => T): T {
    try {
      return f();
    } catch (e) {
      if (e instanceof PickleError && e.offset === undefined) throw new PickleError(e.code, e.message, this.opStart);
      throw e;
    }
  }

  private array(dtype: DType, shape: number[], order: 'C' | 'F', raw: Uint8Array): NdArray {
    return this.wrap(() => {
      const count = elementCount(shape, this.ctx.limits.maxArrayElements);
      const data = decodeArrayBytes(dtype, raw, count);
      return { kind: 'ndarray', dtype, shape, order: shape.length > 1 ? order : 'C', data } as NdArray;
    });
  }

  private build(): void {
    const state = this.pop();
    const target = this.top();
    if (target.kind === 'ndarray' && this.pendingArrays.has(target)) {
      this.pendingArrays.delete(target);
      Object.assign(target as Mutable<NdArray>, this.arrayFromState(state));
      return;
    }
    if (target.kind === 'dtype') {
      this.wrap(() => applyDTypeState(target, state));
      return;
    }
    if (target.kind === 'object') {
      if (target.state?.kind === 'dict' && state.kind === 'dict') {
        for (const [k, e] of state.entries) target.state.entries.set(k, e);
      } else {
        target.state = state;
      }
      target.depth = Math.max(target.depth, this.checkDepth(depthOf(state) + 1));
      if (this.joblib && JOBLIB_WRAPPER.test(target.className)) {
        const arr = this.readJoblibArray(target);
        this.wrapperArrays.set(target, arr);
        this.stack[this.stack.length - 1] = arr;
      }
      return;
    }
    if (target.kind === 'dict' && (state.kind === 'none' || (state.kind === 'dict' && state.entries.size === 0))) return;
    this.fail('MALFORMED', `BUILD applied to a ${typeName(target)}`);
  }

  /** numpy `ndarray.__setstate__((version, shape, dtype, is_fortran, data))`. */
  private arrayFromState(state: PyValue): NdArray {
    if (state.kind !== 'tuple' || (state.items.length !== 5 && state.items.length !== 4)) {
      this.fail('MALFORMED', 'numpy array state is not a (version, shape, dtype, is_fortran, data) tuple');
    }
    const s = state.items.length === 5 ? state.items.slice(1) : state.items;
    const [shapeV, dtype, fortran, data] = s;
    if (dtype.kind !== 'dtype') this.fail('MALFORMED', `numpy array state has a ${typeName(dtype)} for its dtype`);
    const shape = this.shapeOf(shapeV);
    const order = fortran.kind === 'bool' && fortran.value ? 'F' : 'C';
    if (dtype.char === 'O') {
      const count = this.wrap(() => elementCount(shape, this.ctx.limits.maxArrayElements));
      if (data.kind !== 'list' || data.items.length !== count) {
        this.fail('MALFORMED', `object array of shape [${shape.join(', ')}] has ${data.kind === 'list' ? data.items.length : 'no list of'} elements`);
      }
      return { kind: 'ndarray', dtype, shape, order: shape.length > 1 ? order : 'C', data: { type: 'object', values: data.items } };
    }
    const raw = data.kind === 'bytes' ? data.value : data.kind === 'str' ? latin1Bytes(data.value) : undefined;
    if (!raw) this.fail('MALFORMED', `numpy array data is a ${typeName(data)}, not bytes`);
    return this.array(dtype, shape, order, raw);
  }

  /** joblib's NumpyArrayWrapper: the array's bytes follow the wrapper's BUILD in the stream. */
  private readJoblibArray(w: PyObject): NdArray {
    const st = w.state;
    if (st?.kind !== 'dict') this.fail('MALFORMED', 'joblib NumpyArrayWrapper without a state dict');
    const get = (k: string) => st.entries.get(`s:${k}`)?.value;
    const dtype = get('dtype');
    const shapeV = get('shape');
    const orderV = get('order');
    const sub = get('subclass');
    if (dtype?.kind !== 'dtype' || !shapeV) this.fail('MALFORMED', 'joblib NumpyArrayWrapper state lacks dtype or shape');
    if (sub && !(sub.kind === 'global' && sub.module === 'numpy' && sub.name === 'ndarray')) {
      this.fail('UNSUPPORTED', `joblib array of subclass ${typeName(sub)}: only numpy.ndarray is supported`);
    }
    const shape = this.shapeOf(shapeV);
    const order = orderV?.kind === 'str' && orderV.value === 'F' ? 'F' : 'C';
    const count = this.wrap(() => elementCount(shape, this.ctx.limits.maxArrayElements));
    if (dtype.char === 'O') {
      // Object arrays are a complete pickle of the array, inline (joblib writes it with pickle protocol 2).
      if (++this.ctx.nested > this.ctx.limits.maxNestedPickles) {
        throw limitError('maxNestedPickles', `more than ${this.ctx.limits.maxNestedPickles} pickles nested in a joblib file`, this.opStart);
      }
      const inner = new Machine(this.bytes, this.pos, this.ctx, false).run();
      this.pos = inner.end;
      const v = inner.value;
      if (v.kind !== 'ndarray' || v.dtype.char !== 'O') this.fail('MALFORMED', 'joblib object array did not unpickle to an object array');
      return v;
    }
    const align = get('numpy_array_alignment_bytes');
    if (align && align.kind === 'int') {
      const pad = this.take(1, 'joblib array padding length')[0];
      this.take(pad, 'joblib array padding');
    }
    const n = this.wrap(() => byteLength(dtype, count));
    const raw = this.takeDeclared(n, `joblib array of shape [${shape.join(', ')}] ${dtype.str}`);
    return this.array(dtype, shape, order, raw);
  }
}

function latin1(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
}

function latin1Bytes(s: string): Uint8Array | undefined {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 255) return undefined;
    out[i] = c;
  }
  return out;
}

/** Protocol 0 UNICODE: raw-unicode-escape (\uXXXX and \UXXXXXXXX escapes, other bytes latin-1). */
function rawUnicodeEscape(s: string): string {
  return s.replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (_, u4: string, u8: string) => String.fromCodePoint(parseInt(u4 ?? u8, 16)));
}

/** Protocol 0 STRING: a Python 2 string literal ('...' or "..." with backslash escapes). */
function pythonStringLiteral(s: string, fail: (m: string) => never): string {
  const q = s[0];
  if ((q !== "'" && q !== '"') || s[s.length - 1] !== q || s.length < 2) fail('STRING argument is not a quoted literal');
  const body = s.slice(1, -1);
  const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"', a: '\x07', b: '\b', f: '\f', v: '\v', '0': '\0' };
  return body.replace(/\\(x[0-9a-fA-F]{2}|[0-7]{1,3}|.)/g, (_, e: string) => {
    if (e[0] === 'x') return String.fromCharCode(parseInt(e.slice(1), 16));
    if (/^[0-7]+$/.test(e)) return String.fromCharCode(parseInt(e, 8) & 0xff);
    return simple[e] ?? `\\${e}`;
  });
}

// The safe pickle reader on data: numpy arrays of every dtype (bool, float16, int8..uint64,
// complex, str, bytes, object, structured records, big-endian, Fortran order, 0-d, empty) as
// pickle protocols 2-5 and joblib write them, protocol-5 out-of-band buffers, Python containers
// and scalars (big ints, sets, bytearray, complex, slice, OrderedDict, numpy scalars), shared and
// recursive references, protocol 0 text opcodes, joblib zlib/gzip files, the estimator state of a
// real model, and the typed accessors' errors. Expected values come from
// test/fixtures/sklearn/pickle/values.json, written by numpy itself.
import { readFileSync } from 'node:fs';
import { deflateSync, gzipSync } from 'node:zlib';
import t from 'tap';
import {
  LayoutError, PyObj, allowedGlobals, halfToFloat, readModelPickle, readPickle, recordField, toFloat64, toValues,
  type NdArray, type PyDict, type PyValue,
} from '../../src/convert/pickle/index.js';
import { FIXTURES, fixtureBytes } from './sklearn-helpers.js';

interface ArrayExpect { shape: number[]; dtype: string; fortran: boolean; values?: unknown[]; fields?: Record<string, unknown[]> }
interface Entry { file: string; kind: string; format?: 'joblib'; buffers?: string[]; expect?: ArrayExpect }
const entries = JSON.parse(readFileSync(new URL('pickle/values.json', FIXTURES), 'utf8')) as Entry[];

const get = (d: PyValue, key: string): PyValue => {
  if (d.kind !== 'dict') throw new Error(`not a dict: ${d.kind}`);
  const e = d.entries.get(`s:${key}`);
  if (!e) throw new Error(`no key ${key}`);
  return e.value;
};

/** Array elements in C order, encoded as values.json encodes them. */
function elements(a: NdArray): unknown[] {
  const d = a.data;
  switch (d.type) {
    case 'bigint': {
      const out: string[] = [];
      const c = toValues(a);
      for (const v of c) out.push(v.kind === 'int' ? v.value.toString() : '?');
      return out;
    }
    case 'complex': {
      const v = Array.from(d.values);
      return Array.from({ length: v.length / 2 }, (_, i) => [v[2 * i], v[2 * i + 1]]);
    }
    case 'string': case 'object': case 'bytes': case 'bool':
      return toValues(a).map((v) => {
        if (v.kind === 'bytes') return Buffer.from(v.value).toString('latin1');
        if (v.kind === 'str' || v.kind === 'bool' || v.kind === 'float') return v.value;
        if (v.kind === 'int') return Number(v.value);
        return v.kind;
      });
    default: {
      const f = toFloat64(a);
      if (a.dtype.char !== 'f') return Array.from(f);
      return Array.from(f, (x) => (Number.isNaN(x) ? null : x === Infinity ? 'inf' : x === -Infinity ? '-inf' : x));
    }
  }
}

t.test('numpy arrays of every dtype, layout and protocol', async (t) => {
  const arrays = entries.filter((e) => e.kind === 'ndarray');
  t.ok(arrays.length >= 100, `${arrays.length} array pickles`);
  for (const e of arrays) {
    const buffers = e.buffers?.map((b) => fixtureBytes(b));
    const v = readModelPickle(fixtureBytes(e.file), { format: e.format ?? 'pickle', ...(buffers ? { buffers } : {}) });
    const x = e.expect!;
    if (v.kind !== 'ndarray') { t.fail(`${e.file}: read a ${v.kind}`); continue; }
    t.equal(v.dtype.name, x.dtype, `${e.file}: dtype`);
    t.same(v.shape, x.shape, `${e.file}: shape`);
    if (x.shape.length > 1) t.equal(v.order, x.fortran ? 'F' : 'C', `${e.file}: memory order`);
    if (x.fields) {
      for (const [name, values] of Object.entries(x.fields)) {
        const got = Array.from(recordField(v, name), (n) => (typeof values[0] === 'string' ? String(n) : n));
        t.same(got, values, `${e.file}: field ${name}`);
      }
    } else {
      t.same(elements(v), x.values, `${e.file}: values in C order`);
    }
  }
});

t.test('float16 decoding covers normals, subnormals, infinities and NaN', async (t) => {
  t.equal(halfToFloat(0x3c00), 1);
  t.equal(halfToFloat(0xc000), -2);
  t.equal(halfToFloat(0x7bff), 65504);
  t.equal(halfToFloat(0x0001), 2 ** -24);
  t.equal(halfToFloat(0x7c00), Infinity);
  t.ok(Number.isNaN(halfToFloat(0x7e00)));
});

t.test('Python containers and scalars, protocols 2 to 5', async (t) => {
  for (const proto of [2, 3, 4, 5]) {
    const v = readModelPickle(fixtureBytes(`pickle/containers.p${proto}.pkl`), { format: 'pickle' });
    const list = get(v, 'list');
    t.same(list.kind === 'list' && list.items.map((x) => x.kind), ['int', 'float', 'str', 'none', 'bool'], `p${proto}: list items keep their Python types`);
    const tuple = get(v, 'tuple');
    t.equal(tuple.kind === 'tuple' && tuple.items[1].kind, 'tuple', `p${proto}: nested tuple`);
    const set = get(v, 'set');
    t.same(set.kind === 'set' && !set.frozen && [...set.items.values()].map((x) => x.kind === 'int' && x.value), [1, 2], `p${proto}: set`);
    const fs = get(v, 'frozenset');
    t.ok(fs.kind === 'set' && fs.frozen, `p${proto}: frozenset`);
    const b = get(v, 'bytes');
    t.same(b.kind === 'bytes' && [...b.value, b.mutable], [0, 255, false], `p${proto}: bytes`);
    const ba = get(v, 'bytearray');
    t.same(ba.kind === 'bytes' && [Buffer.from(ba.value).toString(), ba.mutable], ['xy', true], `p${proto}: bytearray`);
    t.same(get(v, 'big'), { kind: 'int', value: 2n ** 100n }, `p${proto}: 2**100 as a bigint`);
    t.same(get(v, 'neg'), { kind: 'int', value: -(2n ** 70n) }, `p${proto}: -2**70`);
    t.same(get(v, 'complex'), { kind: 'complex', real: 1.5, imag: -2 }, `p${proto}: complex`);
    const od = get(v, 'ordered') as PyDict;
    t.same([od.className, [...od.entries.values()].map((e) => e.key.kind === 'str' && e.key.value)], ['collections.OrderedDict', ['b', 'a']], `p${proto}: OrderedDict keeps its order`);
    const sl = get(v, 'slice');
    t.same(sl.kind === 'slice' && [sl.start, sl.stop, sl.step].map((x) => x.kind === 'int' && x.value), [1, 10, 2], `p${proto}: slice`);
    t.same(get(v, 'unicode'), { kind: 'str', value: 'Grüße ✓' }, `p${proto}: unicode str`);

    const s = readModelPickle(fixtureBytes(`pickle/numpy-scalars.p${proto}.pkl`), { format: 'pickle' });
    const scalar = (k: string): [string, number] => {
      const x = get(s, k);
      if (x.kind !== 'scalar') return ['not a scalar', NaN];
      return [x.array.dtype.name, toFloat64(x.array)[0]];
    };
    t.same(scalar('f8'), ['float64', 0.1], `p${proto}: numpy float64 scalar`);
    t.same(scalar('i8'), ['int64', -5], `p${proto}: numpy int64 scalar`);
    t.same(scalar('b'), ['bool', 1], `p${proto}: numpy bool scalar`);
    t.same(scalar('f4'), ['float32', 1.5], `p${proto}: numpy float32 scalar`);
    t.same(scalar('u1'), ['uint8', 200], `p${proto}: numpy uint8 scalar`);

    const shared = readModelPickle(fixtureBytes(`pickle/shared.p${proto}.pkl`), { format: 'pickle' });
    t.equal(get(shared, 'a'), get(shared, 'b'), `p${proto}: a shared list is one object (memo)`);
  }
  const rec = readModelPickle(fixtureBytes('pickle/recursive.p4.pkl'), { format: 'pickle' });
  t.ok(rec.kind === 'list' && rec.items[1] === rec, 'a list containing itself is read as a cycle, not expanded');
  const p0 = readModelPickle(fixtureBytes('pickle/containers.p0.pkl'), { format: 'pickle' });
  t.same(get(p0, 'n'), { kind: 'int', value: -12345678901234567890n }, 'protocol 0 text LONG');
  const tup = get(p0, 't');
  t.same(tup.kind === 'tuple' && tup.items, [{ kind: 'bool', value: true }, { kind: 'bool', value: false }], 'protocol 0 booleans (INT 01/00)');
  const a = get(p0, 'a');
  t.same(a.kind === 'list' && a.items.map((x) => x.kind), ['int', 'float', 'str', 'none'], 'protocol 0 list');
});

t.test('joblib files: plain, zlib- and gzip-compressed', async (t) => {
  const plain = fixtureBytes('models/linreg.joblib');
  const zlib = fixtureBytes('models/linreg.zlib.joblib');
  const gzip = fixtureBytes('models/linreg.gzip.joblib');
  const coef = (bytes: Uint8Array) => Array.from(PyObj.of(readModelPickle(bytes, { format: 'joblib' }), 'm').f64('coef_').values);
  t.equal(zlib[0], 0x78, 'zlib stream');
  t.same(gzip.subarray(0, 2), Uint8Array.of(0x1f, 0x8b), 'gzip stream');
  t.same(coef(zlib), coef(plain), 'zlib-compressed joblib reads the same coefficients');
  t.same(coef(gzip), coef(plain), 'gzip-compressed joblib reads the same coefficients');
  // The same data compressed by node: the reader does not depend on joblib's writer.
  const raw = fixtureBytes('pickle/array-float64.p4.pkl');
  for (const packed of [deflateSync(raw), gzipSync(raw)]) {
    const v = readModelPickle(packed, { format: 'joblib' });
    t.same(v.kind === 'ndarray' && Array.from(toFloat64(v)), [Math.PI, -0, 1e-310, Infinity]);
  }
});

t.test('estimator state by attribute name, with layout errors naming class and field', async (t) => {
  const tree = PyObj.of(readModelPickle(fixtureBytes('models/tree-classifier-deep.cloudpickle.pkl')), 'model', 'DecisionTreeClassifier');
  t.equal(tree.className, 'sklearn.tree._classes.DecisionTreeClassifier');
  t.equal(tree.int('n_features_in_'), 8);
  const nodes = tree.obj('tree_', 'Tree').array('nodes');
  t.equal(nodes.dtype.itemsize, 56, 'tree nodes are 56-byte records');
  t.same(nodes.dtype.fields?.map((f) => f.name), ['left_child', 'right_child', 'feature', 'threshold', 'impurity', 'n_node_samples', 'weighted_n_node_samples']);
  t.equal(recordField(nodes, 'left_child')[0], 1, 'root left child is node 1');
  t.throws(() => tree.raw('coef_'), { name: 'LayoutError', message: /model \(sklearn\.tree\._classes\.DecisionTreeClassifier\): attribute 'coef_' is missing/ });
  t.throws(() => tree.f64('criterion'), { message: /attribute 'criterion' is "gini", expected a numeric array/ });
  t.throws(() => tree.int('tree_'), { message: /attribute 'tree_' is sklearn\.tree\._tree\.Tree, expected an int/ });
  t.throws(() => tree.obj('tree_', 'Pipeline'), { message: /model\.tree_: expected Pipeline, found sklearn\.tree\._tree\.Tree/ });
  t.throws(() => tree.oneOf('criterion', ['entropy']), { message: /'gini', which Tessera does not convert/ });
  t.throws(() => PyObj.of({ kind: 'none' }, 'model', 'Pipeline'), LayoutError);
});

t.test('the allow-list: estimator classes, numpy reconstructors, a few builtins; nothing that runs code', async (t) => {
  const names = allowedGlobals();
  for (const n of ['sklearn.tree._tree.Tree', 'numpy.core.multiarray._reconstruct', 'numpy._core.multiarray._reconstruct', 'numpy.dtype',
    'copyreg._reconstructor', 'collections.OrderedDict', 'joblib.numpy_pickle.NumpyArrayWrapper', 'sklearn.pipeline.Pipeline']) {
    t.ok(names.includes(n), `${n} is allowed`);
  }
  for (const n of ['posix.system', 'os.system', 'builtins.eval', 'builtins.exec', 'builtins.getattr', 'builtins.__import__',
    'subprocess.Popen', 'builtins.open', 'numpy.load', 'numpy.frombuffer', 'pickle.loads', 'cloudpickle.cloudpickle._make_function']) {
    t.notOk(names.includes(n), `${n} is not allowed`);
  }
});

t.test('hand-assembled opcodes: INST, OBJ, NEWOBJ_EX, copyreg._reconstructor, bytearray8', async (t) => {
  // INST of an allowed class records the call; OBJ likewise.
  const inst = readPickle(Buffer.from('(I1\nisklearn.pipeline\nPipeline\n.', 'latin1'));
  t.same(inst.kind === 'object' && [inst.className, inst.via, inst.args], ['sklearn.pipeline.Pipeline', 'call', [{ kind: 'int', value: 1 }]]);
  const obj = readPickle(Buffer.from('(csklearn.dummy\nDummyRegressor\nK\x02o.', 'latin1'));
  t.same(obj.kind === 'object' && [obj.className, obj.args.length], ['sklearn.dummy.DummyRegressor', 1]);
  // NEWOBJ_EX keeps keyword arguments as data.
  const ex = readPickle(Buffer.from('\x80\x04\x8c\rsklearn.dummy\x8c\x0eDummyRegressor\x93)}\x8c\x01k\x8c\x01v\x73\x92.', 'latin1'));
  t.same(ex.kind === 'object' && ex.kwargs && [...ex.kwargs.entries.keys()], ['s:k']);
  // copyreg._reconstructor(cls, object, None) makes a plain instance of an allowed class.
  const rc = readPickle(Buffer.from('\x80\x02ccopyreg\n_reconstructor\ncsklearn.dummy\nDummyClassifier\ncbuiltins\nobject\nN\x87R}b.', 'latin1'));
  t.same(rc.kind === 'object' && [rc.className, rc.via], ['sklearn.dummy.DummyClassifier', 'new']);
  // Protocol 5 BYTEARRAY8.
  const ba = readPickle(Buffer.from('\x80\x05\x96\x02\x00\x00\x00\x00\x00\x00\x00hi.', 'latin1'));
  t.same(ba.kind === 'bytes' && [Buffer.from(ba.value).toString(), ba.mutable], ['hi', true]);
});

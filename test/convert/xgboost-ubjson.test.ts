// The UBJSON reader behind model.ubj: it reads what XGBoost writes (and the rest of the spec it
// claims), and refuses malformed or hostile input — truncation, huge declared lengths, deep
// nesting, unknown markers, trailing bytes — with an error naming the offset, quickly, without
// allocating what a header claims.
import t from 'tap';
import type tap from 'tap';
import { readFileSync } from 'node:fs';
import { parseUbjson, UbjsonError, type UbjObject } from '../../src/convert/xgboost/ubjson.js';

const IRIS_UBJ = '/work/shared/data/mlflow-models/iris-xgb/model.ubj';
const FIXTURE_UBJ = new URL('../fixtures/xgboost/iris-softprob.ubj', import.meta.url);
const FIXTURE_JSON = new URL('../fixtures/xgboost/iris-softprob.json', import.meta.url);

// A small UBJSON writer for the tests (big-endian, as the spec says).
const ch = (s: string): number[] => Array.from(s, (c) => c.charCodeAt(0));
const be = (bytes: number, write: (v: DataView) => void): number[] => {
  const v = new DataView(new ArrayBuffer(bytes));
  write(v);
  return Array.from(new Uint8Array(v.buffer));
};
const int64 = (n: bigint): number[] => [...ch('L'), ...be(8, (v) => v.setBigInt64(0, n))];
const int32 = (n: number): number[] => [...ch('l'), ...be(4, (v) => v.setInt32(0, n))];
const key = (s: string): number[] => {
  const b = Array.from(new TextEncoder().encode(s));
  return [...ch('U'), b.length, ...b];
};
const str = (s: string): number[] => [...ch('S'), ...key(s)];
const bytes = (...parts: number[][]): Uint8Array => Uint8Array.from(parts.flat());

t.test('reads every value type', async (t) => {
  const doc = bytes(
    ch('{'),
    key('null'), ch('Z'),
    key('yes'), ch('T'),
    key('no'), ch('F'),
    key('i8'), ch('i'), [0xff],
    key('u8'), ch('U'), [200],
    key('i16'), ch('I'), be(2, (v) => v.setInt16(0, -300)),
    key('i32'), int32(-70000),
    key('i64'), int64(2n ** 40n),
    key('big'), int64(2n ** 62n),
    key('f32'), ch('d'), be(4, (v) => v.setFloat32(0, 0.1)),
    key('f64'), ch('D'), be(8, (v) => v.setFloat64(0, 0.1)),
    key('char'), ch('C'), ch('x'),
    key('text'), str('ünï'),
    key('list'), ch('['), ch('i'), [1], ch('N'), str('a'), ch(']'),
    key('counted'), ch('['), ch('#'), ch('i'), [2], ch('T'), ch('F'),
    key('floats'), ch('['), ch('$'), ch('d'), ch('#'), ch('U'), [2], be(4, (v) => v.setFloat32(0, 1.5)), be(4, (v) => v.setFloat32(0, -2)),
    key('longs'), ch('['), ch('$'), ch('L'), ch('#'), int64(2n), be(8, (v) => v.setBigInt64(0, 1n)), be(8, (v) => v.setBigInt64(0, -5n)),
    key('counted_obj'), ch('{'), ch('#'), ch('i'), [1], key('k'), ch('Z'),
    ch('}'),
  );
  const v = parseUbjson(doc) as UbjObject;
  t.equal(Object.getPrototypeOf(v), null, 'objects have no prototype');
  t.equal(v.null, null);
  t.equal(v.yes, true);
  t.equal(v.no, false);
  t.equal(v.i8, -1);
  t.equal(v.u8, 200);
  t.equal(v.i16, -300);
  t.equal(v.i32, -70000);
  t.equal(v.i64, 2 ** 40);
  t.equal(v.big, 2n ** 62n, 'int64 beyond 2^53 stays exact as a bigint');
  t.equal(v.f32, Math.fround(0.1));
  t.equal(v.f64, 0.1);
  t.equal(v.char, 'x');
  t.equal(v.text, 'ünï');
  t.same(v.list, [1, 'a']);
  t.same(v.counted, [true, false]);
  t.ok(v.floats instanceof Float32Array);
  t.same(Array.from(v.floats as Float32Array), [1.5, -2]);
  t.same(Array.from(v.longs as BigInt64Array), [1n, -5n]);
  t.same({ ...(v.counted_obj as UbjObject) }, { k: null });
});

t.test("reads XGBoost's model.ubj files: typed arrays for the tree fields", async (t) => {
  for (const file of [IRIS_UBJ, FIXTURE_UBJ]) {
    const v = parseUbjson(readFileSync(file)) as UbjObject;
    const learner = v.learner as UbjObject;
    const trees = ((learner.gradient_booster as UbjObject).model as UbjObject).trees as UbjObject[];
    t.ok(trees.length > 0, `${String(file)}: trees`);
    t.ok(trees[0].split_conditions instanceof Float32Array);
    t.ok(trees[0].left_children instanceof Int32Array);
    t.ok(trees[0].default_left instanceof Uint8Array);
  }
  // The JSON and UBJSON files of one model hold the same trees.
  const ubj = parseUbjson(readFileSync(FIXTURE_UBJ)) as UbjObject;
  const json = JSON.parse(readFileSync(FIXTURE_JSON, 'utf8'));
  const treesOf = (doc: UbjObject): UbjObject[] => (((doc.learner as UbjObject).gradient_booster as UbjObject).model as UbjObject).trees as UbjObject[];
  const a = treesOf(ubj);
  const b = treesOf(json);
  t.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) {
    t.same(Array.from(a[i].split_conditions as Float32Array), (b[i].split_conditions as number[]).map(Math.fround), `tree ${i} conditions`);
    t.same(Array.from(a[i].left_children as Int32Array), b[i].left_children, `tree ${i} children`);
  }
});

function refuses(t: Pick<typeof tap, 'throws'>, input: Uint8Array, message: RegExp, name: string, limits?: { maxBytes?: number; maxDepth?: number }): void {
  t.throws(() => parseUbjson(input, limits), UbjsonError, name);
  t.throws(() => parseUbjson(input, limits), { message }, name);
}

t.test('truncated files are refused at every cut, never read past the end', async (t) => {
  const whole = readFileSync(IRIS_UBJ);
  let cuts = 0;
  // Every cut in the first 600 bytes (headers, keys, markers), then every 97th byte.
  for (let n = 0; n < whole.length; n += n < 600 ? 1 : 97) {
    try {
      parseUbjson(whole.subarray(0, n));
      t.fail(`a ${n}-byte prefix parsed`);
    } catch (error) {
      if (!(error instanceof UbjsonError)) throw error;
      cuts++;
    }
  }
  t.ok(cuts > 800, `${cuts} truncations refused`);
  refuses(t, whole.subarray(0, whole.length - 1), /truncated|needs/, 'one byte short');
});

t.test('declared lengths beyond the input are refused before allocating', async (t) => {
  const huge = 2n ** 40n;
  refuses(t, bytes(ch('['), ch('$'), ch('d'), ch('#'), int64(huge)), /typed array count 1099511627776 exceeds the 0 bytes that remain/, 'typed array of 2^40 floats');
  refuses(t, bytes(ch('['), ch('$'), ch('D'), ch('#'), int32(1000), be(8, () => {})), /typed array count 1000 exceeds the 8 bytes/, 'typed array longer than its bytes');
  refuses(t, bytes(ch('['), ch('#'), int64(huge)), /array count .* exceeds/, 'array of 2^40 values');
  refuses(t, bytes(ch('{'), ch('#'), int64(huge)), /object count .* exceeds/, 'object of 2^40 entries');
  refuses(t, bytes(ch('S'), int64(2n ** 50n)), /string length 1125899906842624 exceeds/, 'string of 2^50 bytes');
  refuses(t, bytes(ch('S'), int64(2n ** 63n - 1n)), /string length .* out of range/, 'string length beyond 2^53');
  refuses(t, bytes(ch('S'), ch('i'), [0xfe]), /string length -2 is out of range/, 'negative length');
  refuses(t, bytes(ch('{'), ch('L'), be(8, (v) => v.setBigInt64(0, 10n ** 12n))), /object key length .* exceeds/, 'huge key length');
  refuses(t, bytes(ch('S'), ch('d'), be(4, () => {})), /string length must be an integer, found marker 'd'/, 'float length');
});

t.test('size and depth limits', async (t) => {
  const deep = new Uint8Array(100_000).fill('['.charCodeAt(0));
  refuses(t, deep, /nesting deeper than 64/, '100k nested arrays: no stack overflow');
  const deepObjects = bytes(...Array.from({ length: 70 }, () => [...ch('{'), ...key('a')]));
  refuses(t, deepObjects, /nesting deeper than 64/, 'nested objects');
  const file = readFileSync(IRIS_UBJ);
  refuses(t, file, /larger than the limit of 1000/, 'maxBytes', { maxBytes: 1000 });
  refuses(t, bytes(ch('['), ch('['), ch('['), ch(']'), ch(']'), ch(']')), /nesting deeper than 2/, 'maxDepth', { maxDepth: 2 });
  t.same(parseUbjson(bytes(ch('['), ch('['), ch(']'), ch(']')), { maxDepth: 2 }), [[]]);
});

t.test('malformed input is refused with the offset', async (t) => {
  refuses(t, new Uint8Array(0), /empty input/, 'empty');
  refuses(t, bytes(ch('Z'), ch('Z')), /1 bytes after the value \(at byte 1\)/, 'trailing bytes');
  refuses(t, bytes(ch('q')), /unknown marker 'q' \(at byte 0\)/, 'unknown marker');
  refuses(t, bytes([0x00]), /unknown marker '0x00'/, 'binary garbage');
  refuses(t, bytes(ch('H'), ch('i'), [1], ch('1')), /high-precision numbers/, 'H');
  refuses(t, bytes(ch('{'), key('a'), ch('T'), key('a'), ch('F'), ch('}')), /duplicate key 'a'/, 'duplicate key');
  refuses(t, bytes(ch('{'), ch('U'), [2], [0xc3, 0x28], ch('Z'), ch('}')), /object key is not valid UTF-8/, 'invalid UTF-8');
  refuses(t, bytes(ch('['), ch('$'), ch('S'), ch('#'), ch('i'), [0]), /typed arrays of 'S' are not supported/, 'typed strings');
  refuses(t, bytes(ch('['), ch('$'), ch('d'), ch('i'), [0]), /needs a count/, 'typed array without #');
  refuses(t, bytes(ch('{'), ch('$'), ch('Z'), ch('#'), ch('i'), [0]), /typed objects are not supported/, 'typed object');
});

t.test('a __proto__ key is plain data', async (t) => {
  const v = parseUbjson(bytes(ch('{'), key('__proto__'), ch('{'), key('polluted'), ch('T'), ch('}'), ch('}'))) as UbjObject;
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype untouched');
  t.same({ ...(v.__proto__ as UbjObject) }, { polluted: true });
});

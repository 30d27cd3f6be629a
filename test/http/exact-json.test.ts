// The JSON parser keeps 64-bit integers exact, agrees with JSON.parse on everything else, and
// reports malformed input as a 400.
import t from 'tap';
import { parseJson } from '../../src/http/exact-json.js';

t.test('fast path: ordinary JSON is JSON.parse', async (t) => {
  const text = '{"a":[1,2.5,-3e2,true,false,null,"x\\"y"],"b":{"c":123456789012345}}';
  t.same(parseJson(text), JSON.parse(text));
});

t.test('integers beyond 2^53 come back as exact bigints', async (t) => {
  const v = parseJson('{"data":[9223372036854775807,-9223372036854775808,18446744073709551615,9007199254740993,12,1.5,"9999999999999999999"]}') as { data: unknown[] };
  t.same(v.data, [9223372036854775807n, -9223372036854775808n, 18446744073709551615n, 9007199254740993n, 12, 1.5, '9999999999999999999']);
  const safe = parseJson('[9007199254740991, 1234567890123456.5, 0.12345678901234567890]') as unknown[];
  t.same(safe, [9007199254740991, 1234567890123456.5, 0.12345678901234568], 'safe integers and long fractions stay numbers');
});

t.test('the exact parser handles the whole grammar', async (t) => {
  const text = '{"n":12345678901234567890, "s":"a\\u00e9\\n\\"", "e":[], "o":{}, "f":-0.5e-3, "t":true, "z":null, "__proto__":{"x":1}}';
  const v = parseJson(text) as Record<string, unknown>;
  t.equal(v.n, 12345678901234567890n);
  t.equal(v.s, 'aé\n"');
  t.same(v.e, []);
  t.same(v.o, {});
  t.equal(v.f, -0.0005);
  t.equal(v.t, true);
  t.equal(v.z, null);
  t.equal(Object.getPrototypeOf(v), Object.prototype, '__proto__ key does not change the prototype');
  t.same(Object.getOwnPropertyDescriptor(v, '__proto__')?.value, { x: 1 });
});

t.test('malformed JSON is a 400 on both paths', async (t) => {
  for (const text of ['{"a":', '[1,2', '{"a":12345678901234567890', '[12345678901234567890,]', '[01234567890123456789]', 'nul', '{"a" 1}']) {
    t.throws(() => parseJson(text), { kind: 'invalid_argument', message: /malformed JSON/ }, text);
  }
  const deep = '['.repeat(200) + '12345678901234567890' + ']'.repeat(200);
  t.throws(() => parseJson(deep), { message: /nesting deeper than 100/ });
});

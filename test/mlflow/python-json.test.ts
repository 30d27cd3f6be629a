// Python's json semantics where MLflow relies on them: NaN/Infinity literals and exact big
// integers in, Python's error wording; floats out as Python's repr.
import t from 'tap';
import { parsePythonJson, PyJsonError } from '../../src/mlflow/invocations/python-json.js';
import { pythonFloatRepr, pythonJsonString } from '../../src/mlflow/invocations/python-json-encode.js';

t.test('parsing as json.loads does', async (t) => {
  t.same(parsePythonJson('{"a": [NaN, Infinity, -Infinity, 1.5]}'), { a: [NaN, Infinity, -Infinity, 1.5] });
  t.same(parsePythonJson('[9007199254740993, -9223372036854775808, 12345678901234567890123]'), [9007199254740993n, -9223372036854775808n, 12345678901234567890123n]);
  t.same(parsePythonJson('[1e400, 0.1]'), [Infinity, 0.1]);
  const proto = parsePythonJson('{"__proto__": 1, "NaN": NaN}') as Record<string, unknown>;
  t.equal(Object.getPrototypeOf(proto), Object.prototype);
  t.equal(Object.keys(proto)[0], '__proto__');
  for (const [text, msg] of [
    ['', 'Expecting value: line 1 column 1 (char 0)'],
    ['{"a" 1}', "Expecting ':' delimiter: line 1 column 6 (char 5)"],
    ['{a: 1}', 'Expecting property name enclosed in double quotes: line 1 column 2 (char 1)'],
    ['[1 2]', "Expecting ',' delimiter: line 1 column 4 (char 3)"],
    ['{}\n{}', 'Extra data: line 2 column 1 (char 3)'],
    ['"abc', 'Unterminated string starting at: line 1 column 1 (char 0)'],
    ['["a\u0001"]', 'Invalid control character at: line 1 column 4 (char 3)'],
    ['[NaN, nan]', 'Expecting value: line 1 column 7 (char 6)'],
  ]) {
    let error: unknown;
    try {
      parsePythonJson(text);
    } catch (e) {
      error = e;
    }
    t.ok(error instanceof PyJsonError, `${text}: a JSONDecodeError`);
    t.equal((error as Error).message, msg, text);
  }
  // The recursive parser (NaN forces it) bounds its depth instead of overflowing the stack.
  t.throws(() => parsePythonJson('['.repeat(600) + 'NaN' + ']'.repeat(600)), /nesting deeper than 512 levels/);
});

t.test("floats and strings as Python's json.dumps writes them", async (t) => {
  const cases: [number, string][] = [
    [75.07771301269531, '75.07771301269531'],
    [Math.fround(0.1), '0.10000000149011612'],
    [1, '1.0'],
    [-0, '-0.0'],
    [1e16, '1e+16'],
    [1.5e-5, '1.5e-05'],
    [0.0001, '0.0001'],
    [123456789012345680, '1.2345678901234568e+17'],
    [1e15, '1000000000000000.0'],
    [5e-324, '5e-324'],
    [1.7976931348623157e308, '1.7976931348623157e+308'],
  ];
  for (const [x, want] of cases) t.equal(pythonFloatRepr(x), want, want);
  t.equal(pythonJsonString('é😀\u0001'), '"\\u00e9\\ud83d\\ude00\\u0001"');
});

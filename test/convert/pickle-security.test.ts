// Malicious pickles are refused with an error naming the global or the limit, and nothing in them
// runs. The fixtures (test/fixtures/sklearn/malicious, written by pickle.dumps or by hand and never
// unpickled) call os.system, eval, exec, subprocess.Popen, getattr, __import__, an unknown class,
// a cloudpickled lambda; others are truncated, declare 10-GB lengths, nest 10000 deep, or expand
// to 10^250 elements. Bombs too big to commit (memo, stack, opcode floods, a zlib bomb) are built
// here. Payloads that would create marker files must leave no file behind.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import t from 'tap';
import { ConversionError } from '../../src/convert/model.js';
import { PickleError, readModelPickle, readPickle } from '../../src/convert/pickle/index.js';
import { convertSklearn } from '../../src/convert/sklearn/index.js';
import { FIXTURES, fixtureBytes } from './sklearn-helpers.js';

interface Malicious { file: string; error: string; note: string; markers: string[] }
const spec = JSON.parse(readFileSync(new URL('malicious/malicious.json', FIXTURES), 'utf8')) as { marker_dir: string; cases: Malicious[] };

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

t.test('every malicious fixture is refused with a clear error, by the reader and by the converter', async (t) => {
  rmSync(spec.marker_dir, { recursive: true, force: true });
  t.ok(spec.cases.length >= 25, `${spec.cases.length} malicious pickles`);
  for (const c of spec.cases) {
    const bytes = fixtureBytes(c.file);
    const started = process.hrtime.bigint();
    t.throws(() => readModelPickle(bytes, { format: c.file.endsWith('.joblib') ? 'joblib' : 'pickle' }), { name: 'PickleError', message: new RegExp(escape(c.error), 'i') },
      `${c.file} (${c.note}) refused naming '${c.error}'`);
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    t.comment(`${c.file}: refused in ${ms.toFixed(2)} ms`);
    let caught: unknown;
    try {
      convertSklearn(bytes, { format: c.file.endsWith('.joblib') ? 'joblib' : 'cloudpickle' });
    } catch (e) {
      caught = e;
    }
    t.ok(caught instanceof ConversionError && caught.cause instanceof PickleError && new RegExp(escape(c.error), 'i').test(caught.message),
      `${c.file}: convertSklearn throws a ConversionError carrying the PickleError (${(caught as Error | undefined)?.message.slice(0, 120)})`);
  }
  for (const marker of spec.cases.flatMap((c) => c.markers)) t.notOk(existsSync(marker), `no marker file ${marker}: nothing was executed`);
});

t.test('the os.system payload would create its marker if run, and reading the pickle does not', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-pickle-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const command = `touch ${join(dir, 'pwned')}`;
  // pickle.dumps of an object whose __reduce__ is (os.system, (command,)), protocol 2, as CPython writes it on Linux.
  const payload = Buffer.concat([Buffer.from('\x80\x02cposix\nsystem\nq\x00X', 'latin1'), u32(command.length), Buffer.from(command), Buffer.from('q\x01\x85q\x02Rq\x03.', 'latin1')]);
  t.throws(() => readPickle(payload), { code: 'FORBIDDEN_GLOBAL', message: /'posix\.system'/ });
  t.notOk(existsSync(join(dir, 'pwned')), 'no file after reading the pickle');
  // The check is not vacuous: the same command, run by a shell, does create the file.
  execFileSync('/bin/sh', ['-c', command.replace('pwned', 'control')]);
  t.ok(existsSync(join(dir, 'control')), 'the payload command works when a shell runs it');
});

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}
function u64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
}

t.test('floods and bombs too large to commit are stopped by their limits', async (t) => {
  const proto4 = Buffer.from('\x80\x04', 'latin1');
  // Memo bomb: 2.1 million MEMOIZE of one list.
  const memo = Buffer.concat([proto4, Buffer.from(']'), Buffer.alloc(2_100_000, 0x94), Buffer.from('.')]);
  t.throws(() => readPickle(memo), { code: 'LIMIT', message: /maxMemoEntries/ }, 'memo bomb');
  // LONG_BINPUT with sparse huge indices costs nothing per index but still counts.
  const sparse = Buffer.concat([proto4, Buffer.from(']'), ...Array.from({ length: 2000 }, (_, i) => Buffer.concat([Buffer.from('r'), u32(4_000_000_000 - i)])), Buffer.from('.')]);
  t.throws(() => readPickle(sparse, { limits: { maxMemoEntries: 1000 } }), { message: /maxMemoEntries/ }, 'sparse memo indices count as entries');
  // Stack flood: 2.1 million NONE.
  const stack = Buffer.concat([proto4, Buffer.alloc(2_100_000, 0x4e), Buffer.from('.')]);
  t.throws(() => readPickle(stack), { code: 'LIMIT', message: /maxStackSize/ }, 'stack flood');
  // Opcode flood (NONE, POP forever), with the limit lowered to keep the test small.
  const ops = Buffer.concat([proto4, Buffer.from('N0'.repeat(10_000)), Buffer.from('N.')]);
  t.throws(() => readPickle(ops, { limits: { maxOpcodes: 5000 } }), { message: /maxOpcodes/ }, 'opcode flood');
  // A huge array declared by shape: refused before allocation.
  // _frombuffer(bytearray(8 bytes), dtype('f8'), (2**30, 2**30), 'C'): the shape is checked before anything is decoded.
  const hugeShape = Buffer.concat([Buffer.from('\x80\x05cnumpy.core.numeric\n_frombuffer\n(\x96', 'latin1'), u64(8), Buffer.alloc(8),
    Buffer.from('cnumpy\ndtype\nX\x02\x00\x00\x00f8\x85RJ\x00\x00\x00\x40J\x00\x00\x00\x40\x86\x8c\x01CtR.', 'latin1')]);
  t.throws(() => readPickle(hugeShape), { code: 'LIMIT', message: /maxArrayElements/ }, 'an array whose shape claims 2^60 elements');
  // zlib bomb: 64 MiB of zeros inflating past a 1 MiB limit.
  const bomb = deflateSync(Buffer.alloc(64 * 1024 * 1024));
  t.ok(bomb.length < 100_000, `the bomb is ${bomb.length} bytes compressed`);
  t.throws(() => readModelPickle(bomb, { format: 'joblib', limits: { maxInputBytes: 1024 * 1024 } }), { code: 'LIMIT', message: /maxInputBytes.*inflates/ }, 'zlib bomb');
  // Input over the size limit.
  t.throws(() => readPickle(Buffer.alloc(2048, 0x4e), { limits: { maxInputBytes: 1024 } }), { message: /maxInputBytes/ });
  // A huge integer in text (protocol 0 INT with 100k digits).
  t.throws(() => readPickle(Buffer.from(`I${'9'.repeat(100_000)}\n.`)), { message: /INT line is longer/ });
  // A 10-GB BINBYTES8 inside a FRAME: refused at the declared length, nothing allocated.
  const frame = Buffer.concat([proto4, Buffer.from([0x95]), u64(11), Buffer.from([0x8e]), u64(10 * 2 ** 30), Buffer.from('ab.')]);
  t.throws(() => readPickle(frame), { code: 'TRUNCATED', message: /BINBYTES8 declares a length of 10737418240 bytes but only 3 remain/ });
});

t.test('errors carry the code and the byte offset of the opcode', async (t) => {
  try {
    readPickle(Buffer.from('\x80\x02N\xff', 'latin1'));
    t.fail('no error');
  } catch (e) {
    t.ok(e instanceof PickleError);
    t.equal((e as PickleError).code, 'UNSUPPORTED');
    t.equal((e as PickleError).offset, 3);
    t.match((e as PickleError).message, /unknown pickle opcode 0xff \(at byte 3\)/);
  }
});

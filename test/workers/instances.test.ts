// Per-model instance count: a model with instance_count K is loaded on exactly K of the N workers
// (asked of the worker threads themselves), its requests run only there, and its queue has K
// workers' worth of execution slots; other models stay on every worker.
import t from 'tap';
import { identityModel } from '../../src/modelgen/examples.js';
import { capturingLogger, infer, startTestServer, tempDir, writeModel } from '../helpers/server.js';

t.test('instance_count K < N loads the model on exactly K workers', async (t) => {
  const root = tempDir(t);
  writeModel(root, 'one', identityModel('fp32'), { name: 'one', parameters: { instance_count: 1 } });
  writeModel(root, 'two', identityModel('fp32'), { name: 'two', parameters: { instance_count: 2 } });
  writeModel(root, 'all', identityModel('fp32'), { name: 'all' });
  writeModel(root, 'many', identityModel('fp32'), { name: 'many', parameters: { instance_count: 9 } });
  const { logger, lines } = capturingLogger('warn');
  const s = await startTestServer(t, { folder: root, logger, settings: { parallel_workers: '3' } });
  const key = (name: string) => s.dataplane.model(name).spec!.key;
  const body = { inputs: [{ name: 'INPUT0', shape: [1, 2], datatype: 'FP32', data: [1, 2] }] };
  // Many concurrent requests: were they routed anywhere else, other workers would load the model.
  const results = await Promise.all(Array.from({ length: 30 }, (_, i) => infer(s, ['one', 'two', 'all'][i % 3], body)));
  t.same([...new Set(results.map((r) => r.status))], [200]);
  const held = await s.pool.workerModels();
  const holdersOf = (name: string) => [...held.entries()].filter(([, models]) => models.includes(key(name))).map(([id]) => id);
  t.equal(held.size, 3, 'three workers');
  t.equal(holdersOf('one').length, 1, 'instance_count 1: one worker holds it');
  t.equal(holdersOf('two').length, 2, 'instance_count 2: two workers');
  t.equal(holdersOf('all').length, 3, 'default: every worker');
  t.equal(holdersOf('many').length, 3, 'more than the workers: every worker');
  t.same(holdersOf('one'), s.pool.instancesOf(key('one')), 'the pool knows where it is');
  t.ok(lines().some((l) => /instance_count is more than the workers/.test(String(l.msg))), 'a warning for the clamped count');
  t.notOk(holdersOf('two').includes(holdersOf('one')[0]), 'instances spread: the workers with the fewest models take new ones');
});

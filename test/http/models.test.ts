// The bundled example models answer correctly: iris classifies a typical row of each species,
// add_sub computes both outputs, wine regresses towards the cultivar index.
import t from 'tap';
import { exampleRepository, infer, startTestServer } from '../helpers/server.js';

t.test('example models', async (t) => {
  const server = await startTestServer(t, { folder: exampleRepository(t, ['iris', 'add_sub', 'wine']) });

  t.test('iris: one typical row per species', async (t) => {
    const rows = [
      [5.0, 3.4, 1.5, 0.2], // setosa
      [5.9, 2.8, 4.3, 1.3], // versicolor
      [6.6, 3.0, 5.6, 2.1], // virginica
    ];
    const res = await infer(server, 'iris', { inputs: [{ name: 'input', shape: [3, 4], datatype: 'FP32', data: rows }] });
    t.equal(res.status, 200);
    const [label, probabilities] = res.json().outputs as { name: string; shape: number[]; data: number[] }[];
    t.equal(label.name, 'label');
    t.same(label.data, [0, 1, 2]);
    t.same(probabilities.shape, [3, 3]);
    for (let r = 0; r < 3; r++) {
      const p = probabilities.data.slice(r * 3, r * 3 + 3);
      t.ok(Math.abs(p[0] + p[1] + p[2] - 1) < 1e-5, 'probabilities sum to 1');
      t.ok(p[r] > 0.5, `row ${r}: its class is the most likely`);
    }
  });

  t.test('add_sub: sum and difference', async (t) => {
    const a = Array.from({ length: 16 }, (_, i) => i);
    const b = Array.from({ length: 16 }, (_, i) => 2 * i + 0.5);
    const res = await infer(server, 'add_sub', {
      inputs: [
        { name: 'INPUT0', shape: [1, 16], datatype: 'FP32', data: a },
        { name: 'INPUT1', shape: [1, 16], datatype: 'FP32', data: b },
      ],
    });
    t.equal(res.status, 200);
    const outputs = res.json().outputs as { name: string; data: number[] }[];
    t.same(outputs.map((o) => o.name), ['OUTPUT0', 'OUTPUT1']);
    t.same(outputs[0].data, a.map((x, i) => x + b[i]));
    t.same(outputs[1].data, a.map((x, i) => x - b[i]));
  });

  t.test('wine: predictions track the cultivar', async (t) => {
    const rows = [
      [14.23, 1.71, 2.43, 15.6, 127, 2.8, 3.06, 0.28, 2.29, 5.64, 1.04, 3.92, 1065], // cultivar 0
      [12.37, 0.94, 1.36, 10.6, 88, 1.98, 0.57, 0.28, 0.42, 1.95, 1.05, 1.82, 520], // cultivar 1
      [13.4, 3.91, 2.48, 23, 102, 1.8, 0.75, 0.43, 1.41, 7.3, 0.7, 1.56, 750], // cultivar 2
    ];
    const res = await infer(server, 'wine', { inputs: [{ name: 'input', shape: [3, 13], datatype: 'FP32', data: rows }] });
    t.equal(res.status, 200);
    const [out] = res.json().outputs as { shape: number[]; data: number[] }[];
    t.same(out.shape, [3]);
    out.data.forEach((v, i) => t.ok(Math.abs(v - i) < 0.6, `row ${i}: ${v} is close to ${i}`));
  });
});

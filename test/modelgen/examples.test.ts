// The model generator: models built by the project's own code load in ONNX Runtime with the
// declared metadata, and the trained iris classifier is accurate on its data.
import t from 'tap';
import ort from 'onnxruntime-node';
import { irisModel, mlpModel } from '../../src/modelgen/examples.js';
import { readCsv, trainSoftmax, predictLinear } from '../../src/modelgen/train.js';

t.test('iris softmax regression fits the data', async (t) => {
  const data = readCsv(new URL('../../src/modelgen/iris.csv', import.meta.url));
  t.equal(data.x.length, 150);
  const model = trainSoftmax(data, 3);
  let correct = 0;
  data.x.forEach((row, i) => {
    const z = predictLinear(model, row);
    if (z.indexOf(Math.max(...z)) === data.y[i]) correct++;
  });
  t.ok(correct / 150 >= 0.95, `training accuracy ${correct}/150`);
});

t.test('generated models load with the declared metadata', async (t) => {
  const iris = await ort.InferenceSession.create(irisModel());
  t.same(iris.inputNames, ['input']);
  t.same(iris.outputNames, ['label', 'probabilities']);
  const mlp = await ort.InferenceSession.create(mlpModel([8, 16, 4]));
  const out = await mlp.run({ input: new ort.Tensor('float32', new Float32Array(16).fill(1), [2, 8]) });
  t.same(out.logits.dims, [2, 4]);
  const a = mlpModel([8, 16, 4], 7);
  const b = mlpModel([8, 16, 4], 7);
  t.same(Buffer.from(a), Buffer.from(b), 'generation is deterministic');
});

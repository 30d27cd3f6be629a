// Tiny, deterministic trainers for the example models: softmax regression (iris) and ridge
// regression (wine). Standardisation is folded into the weights so the ONNX graphs stay small.
import { readFileSync } from 'node:fs';

export interface Dataset {
  features: string[];
  x: Float64Array[]; // one row per sample
  y: Int32Array; // class index
}

export function readCsv(file: URL | string): Dataset {
  const lines = readFileSync(file, 'utf8').trim().split(/\r?\n/);
  const header = lines[0].split(',');
  const features = header.slice(0, -1);
  const x: Float64Array[] = [];
  const y = new Int32Array(lines.length - 1);
  for (let i = 1; i < lines.length; i++) {
    const cells = lines[i].split(',').map(Number);
    x.push(Float64Array.from(cells.slice(0, -1)));
    y[i - 1] = cells[cells.length - 1];
  }
  return { features, x, y };
}

function standardisation(x: Float64Array[]): { mean: Float64Array; std: Float64Array } {
  const d = x[0].length;
  const mean = new Float64Array(d);
  const std = new Float64Array(d);
  for (const row of x) for (let j = 0; j < d; j++) mean[j] += row[j] / x.length;
  for (const row of x) for (let j = 0; j < d; j++) std[j] += (row[j] - mean[j]) ** 2 / x.length;
  for (let j = 0; j < d; j++) std[j] = Math.sqrt(std[j]) || 1;
  return { mean, std };
}

export interface LinearModel {
  /** Row-major [features, outputs] weights acting on raw (unstandardised) features. */
  weights: Float32Array;
  bias: Float32Array;
  outputs: number;
}

/** Folds x' = (x - mean) / std into w and b: x'W + b = x (W/std) + (b - (mean/std) W). */
function fold(w: Float64Array, b: Float64Array, mean: Float64Array, std: Float64Array, k: number): LinearModel {
  const d = mean.length;
  const weights = new Float32Array(d * k);
  const bias = new Float32Array(k);
  for (let c = 0; c < k; c++) {
    let shift = b[c];
    for (let j = 0; j < d; j++) {
      weights[j * k + c] = w[j * k + c] / std[j];
      shift -= (mean[j] / std[j]) * w[j * k + c];
    }
    bias[c] = shift;
  }
  return { weights, bias, outputs: k };
}

/** Multinomial logistic regression by full-batch gradient descent with a small L2 penalty. */
export function trainSoftmax(data: Dataset, classes: number, epochs = 3000, rate = 0.5): LinearModel {
  const { mean, std } = standardisation(data.x);
  const d = mean.length;
  const n = data.x.length;
  const xs = data.x.map((row) => row.map((v, j) => (v - mean[j]) / std[j]));
  const w = new Float64Array(d * classes);
  const b = new Float64Array(classes);
  const logits = new Float64Array(classes);
  for (let epoch = 0; epoch < epochs; epoch++) {
    const gw = new Float64Array(d * classes);
    const gb = new Float64Array(classes);
    for (let i = 0; i < n; i++) {
      let max = -Infinity;
      for (let c = 0; c < classes; c++) {
        let z = b[c];
        for (let j = 0; j < d; j++) z += xs[i][j] * w[j * classes + c];
        logits[c] = z;
        if (z > max) max = z;
      }
      let sum = 0;
      for (let c = 0; c < classes; c++) sum += (logits[c] = Math.exp(logits[c] - max));
      for (let c = 0; c < classes; c++) {
        const err = logits[c] / sum - (data.y[i] === c ? 1 : 0);
        gb[c] += err / n;
        for (let j = 0; j < d; j++) gw[j * classes + c] += (err * xs[i][j]) / n;
      }
    }
    for (let k = 0; k < w.length; k++) w[k] -= rate * (gw[k] + 1e-3 * w[k]);
    for (let c = 0; c < classes; c++) b[c] -= rate * gb[c];
  }
  return fold(w, b, mean, std, classes);
}

/** Ridge regression of the class index on the features (as MLflow's ElasticNet wine example does). */
export function trainRidge(data: Dataset, epochs = 5000, rate = 0.05, l2 = 0.01): LinearModel {
  const { mean, std } = standardisation(data.x);
  const d = mean.length;
  const n = data.x.length;
  const xs = data.x.map((row) => row.map((v, j) => (v - mean[j]) / std[j]));
  const w = new Float64Array(d);
  const b = new Float64Array(1);
  for (let epoch = 0; epoch < epochs; epoch++) {
    const gw = new Float64Array(d);
    let gb = 0;
    for (let i = 0; i < n; i++) {
      let z = b[0];
      for (let j = 0; j < d; j++) z += xs[i][j] * w[j];
      const err = z - data.y[i];
      gb += err / n;
      for (let j = 0; j < d; j++) gw[j] += (err * xs[i][j]) / n;
    }
    for (let j = 0; j < d; j++) w[j] -= rate * (gw[j] + l2 * w[j]);
    b[0] -= rate * gb;
  }
  return fold(w, b, mean, std, 1);
}

/** Applies a folded linear model in float64, for checking a trained model's quality. */
export function predictLinear(model: LinearModel, row: ArrayLike<number>): Float64Array {
  const k = model.outputs;
  const out = new Float64Array(k);
  for (let c = 0; c < k; c++) {
    let z = model.bias[c];
    for (let j = 0; j < row.length; j++) z += row[j] * model.weights[j * k + c];
    out[c] = z;
  }
  return out;
}

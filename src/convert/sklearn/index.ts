// scikit-learn → ONNX: the one entry point. Reads the pickle as data (src/convert/pickle), dispatches
// on the root class, composes pipelines and column transformers, and returns a ConvertedModel whose
// graph outputs match the estimator's `predict` (and `predict_proba` for classifiers).
//
// Graph input: one tensor `input` [N, n_features_in_], DOUBLE (MLflow's double columns), or STRING
// when some OneHotEncoder has string categories (then every column arrives as text, and numeric
// columns are parsed inside the graph). Outputs: `predict` ([N] or [N, targets]: INT64, STRING,
// DOUBLE or BOOL as sklearn's labels are), `predict_proba` (DOUBLE [N, classes]) where sklearn has
// it; a root transformer (a scaler, a Pipeline without a final estimator) gives `transform`.
import { ConversionError, DEFAULT_INPUT_NAME, PREDICT_OUTPUT, PREDICT_PROBA_OUTPUT, type ClassLabels, type ConvertedModel } from '../model.js';
import { GraphBuilder, type Dim } from '../onnx/index.js';
import { PickleError, PyObj, readModelPickle, type PickleFormat, type PickleLimits, type PyValue } from '../pickle/index.js';
import { SUPPORTED_ESTIMATORS, convertStep, hasConverter, inputNames, inputWidth, needsStringInput } from './compose.js';
import { Ctx, type Features, type Labels } from './context.js';

export { SUPPORTED_ESTIMATORS } from './compose.js';
export type { Labels } from './context.js';

/** Output name of a root transformer (what its `transform` returns). */
export const TRANSFORM_OUTPUT = 'transform';

export interface ConvertSklearnOptions {
  /** How the file was written (MLflow's `serialization_format`); default cloudpickle. */
  format?: PickleFormat;
  /** Pickle reader limits (defaults: DEFAULT_PICKLE_LIMITS). */
  limits?: Partial<PickleLimits>;
  /** Graph input name; default `input`. */
  inputName?: string;
}

/** Convert a pickled fitted sklearn estimator. Throws ConversionError (its cause a PickleError for unsafe or broken files). */
export function convertSklearn(pickle: Uint8Array, options: ConvertSklearnOptions = {}): ConvertedModel {
  let root: PyValue;
  try {
    root = readModelPickle(pickle, { format: options.format ?? 'cloudpickle', ...(options.limits ? { limits: options.limits } : {}) });
  } catch (e) {
    if (e instanceof PickleError) throw new ConversionError('sklearn model pickle', e.message, { cause: e });
    throw e;
  }
  return convertSklearnValue(root, options);
}

/** Convert an estimator already read from a pickle. */
export function convertSklearnValue(root: PyValue, options: Pick<ConvertSklearnOptions, 'inputName'> = {}): ConvertedModel {
  if (root.kind !== 'object') throw new ConversionError('sklearn model pickle', `the pickle holds a ${root.kind}, not a fitted estimator`);
  const top = PyObj.of(root, 'model');
  const estimator = top.className;
  if (!hasConverter(top.shortName)) {
    throw new ConversionError(estimator, `no converter for this class (supported: ${SUPPORTED_ESTIMATORS.join(', ')})`);
  }
  const width = inputWidth(root, 'model');
  const names = inputNames(root, 'model');
  const strings = needsStringInput(root, 'model');
  const g = new GraphBuilder('sklearn', {
    docString: `${estimator} converted by Tessera from its pickle`,
    metadata: {
      'tessera.source': 'sklearn',
      'tessera.estimator': estimator,
      ...(names ? { 'tessera.feature_names': JSON.stringify(names) } : {}),
    },
  });
  const input = g.input(options.inputName ?? DEFAULT_INPUT_NAME, strings ? 'STRING' : 'DOUBLE', ['N', width]);
  const features: Features = names ? { value: input, width, names } : { value: input, width };
  const ctx = new Ctx(g);
  const r = convertStep(ctx, root, 'model', features);

  let task: ConvertedModel['task'];
  let classLabels: ClassLabels | undefined;
  let detail: string;
  if (r.kind === 'features') {
    g.output(r.features.value, TRANSFORM_OUTPUT, ['N', r.features.width]);
    task = 'transformer';
    detail = `${r.features.width} output columns`;
  } else {
    const p = r.prediction;
    g.output(p.predict, PREDICT_OUTPUT, p.predictShape as Dim[]);
    if (p.proba) g.output(p.proba, PREDICT_PROBA_OUTPUT, ['N', p.labels?.values.length ?? -1]);
    task = p.task;
    classLabels = p.labels ? modelLabels(p.labels) : undefined;
    detail = p.labels ? `${p.labels.values.length} classes (${p.labels.kind} labels)${p.proba ? ', with predict_proba' : ''}` : `${p.predictShape.length === 2 ? `${String(p.predictShape[1])} targets` : '1 target'}`;
  }
  const onnx = g.build();
  const { inputs, outputs } = g.metadata();
  const description = `sklearn ${describeEstimator(top)} → ${task}, ${width} ${strings ? 'string' : 'double'} features, ${detail}; ${g.nodeCount} ONNX nodes, ${onnx.length} bytes`;
  const model: ConvertedModel = { onnx, inputs, outputs, estimator, task, description };
  if (classLabels) model.classLabels = classLabels;
  return model;
}

/** ClassLabels as model.ts defines them (int64 and string labels; float and bool labels are kept in the graph only). */
function modelLabels(l: Labels): ClassLabels | undefined {
  if (l.kind === 'int64') return { kind: 'int64', values: l.values };
  if (l.kind === 'string') return { kind: 'string', values: l.values };
  return undefined;
}

/** `Pipeline(StandardScaler, LogisticRegression)` for descriptions. */
function describeEstimator(o: PyObj): string {
  if (o.shortName !== 'Pipeline') return o.shortName;
  const parts = o.list('steps').map((s) => (s.kind === 'tuple' && s.items[1]?.kind === 'object' ? PyObj.of(s.items[1], 'step').shortName : 'passthrough'));
  return `Pipeline(${parts.join(', ')})`;
}

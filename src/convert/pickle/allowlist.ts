// The allow-list: every global a pickle may name, and what the reader does with it. A global that
// is not here stops the load with an error naming it. Nothing is ever imported or called: classes
// become data records, numpy/builtin reconstructors are re-implemented as pure data transforms, and
// a few helper functions (numpy RandomState constructors, Cython unpicklers) are recorded as inert
// calls.

/** Natively rebuilt globals (the reader implements each as a pure data transform). */
export type NativeId =
  | 'numpy.ndarray' | 'numpy.dtype' | 'numpy._reconstruct' | 'numpy.scalar' | 'numpy._frombuffer'
  | 'copyreg._reconstructor' | 'collections.OrderedDict' | 'builtins.set' | 'builtins.frozenset'
  | 'builtins.bytearray' | 'builtins.bytes' | 'builtins.slice' | 'builtins.complex' | 'builtins.object'
  | 'builtins.list' | 'builtins.dict' | 'builtins.tuple' | '_codecs.encode';

export type AllowedGlobal =
  /** An estimator or helper class: calling or `__new__`-ing it records a `PyObject`. */
  | { readonly type: 'class'; readonly module: string; readonly name: string }
  /** A helper function whose call is recorded as an inert `PyObject` named after the function. */
  | { readonly type: 'record'; readonly module: string; readonly name: string }
  /** A type that may be referenced as a value (e.g. `dtype=numpy.float64`) but never called. */
  | { readonly type: 'reference'; readonly module: string; readonly name: string }
  | { readonly type: 'native'; readonly module: string; readonly name: string; readonly id: NativeId };

/** sklearn classes the converters use, with every module path they have lived at. */
const SKLEARN_CLASSES: Record<string, readonly string[]> = {
  // linear models
  LinearRegression: ['sklearn.linear_model._base', 'sklearn.linear_model.base'],
  Ridge: ['sklearn.linear_model._ridge', 'sklearn.linear_model.ridge'],
  Lasso: ['sklearn.linear_model._coordinate_descent', 'sklearn.linear_model.coordinate_descent'],
  ElasticNet: ['sklearn.linear_model._coordinate_descent', 'sklearn.linear_model.coordinate_descent'],
  SGDRegressor: ['sklearn.linear_model._stochastic_gradient', 'sklearn.linear_model.stochastic_gradient'],
  SGDClassifier: ['sklearn.linear_model._stochastic_gradient', 'sklearn.linear_model.stochastic_gradient'],
  LogisticRegression: ['sklearn.linear_model._logistic', 'sklearn.linear_model.logistic'],
  LinearSVC: ['sklearn.svm._classes', 'sklearn.svm.classes'],
  LinearSVR: ['sklearn.svm._classes', 'sklearn.svm.classes'],
  // SGD loss objects (Cython extension types pickled as `Cls(*params)`)
  Hinge: ['sklearn.linear_model._sgd_fast', 'sklearn.linear_model.sgd_fast'],
  SquaredHinge: ['sklearn.linear_model._sgd_fast', 'sklearn.linear_model.sgd_fast'],
  Log: ['sklearn.linear_model._sgd_fast', 'sklearn.linear_model.sgd_fast'],
  ModifiedHuber: ['sklearn.linear_model._sgd_fast', 'sklearn.linear_model.sgd_fast'],
  SquaredLoss: ['sklearn.linear_model._sgd_fast', 'sklearn.linear_model.sgd_fast'],
  Huber: ['sklearn.linear_model._sgd_fast', 'sklearn.linear_model.sgd_fast'],
  EpsilonInsensitive: ['sklearn.linear_model._sgd_fast', 'sklearn.linear_model.sgd_fast'],
  SquaredEpsilonInsensitive: ['sklearn.linear_model._sgd_fast', 'sklearn.linear_model.sgd_fast'],
  // trees and forests
  DecisionTreeClassifier: ['sklearn.tree._classes', 'sklearn.tree.tree'],
  DecisionTreeRegressor: ['sklearn.tree._classes', 'sklearn.tree.tree'],
  ExtraTreeClassifier: ['sklearn.tree._classes', 'sklearn.tree.tree'],
  ExtraTreeRegressor: ['sklearn.tree._classes', 'sklearn.tree.tree'],
  Tree: ['sklearn.tree._tree'],
  RandomForestClassifier: ['sklearn.ensemble._forest', 'sklearn.ensemble.forest'],
  RandomForestRegressor: ['sklearn.ensemble._forest', 'sklearn.ensemble.forest'],
  ExtraTreesClassifier: ['sklearn.ensemble._forest', 'sklearn.ensemble.forest'],
  ExtraTreesRegressor: ['sklearn.ensemble._forest', 'sklearn.ensemble.forest'],
  // gradient boosting and its helpers
  GradientBoostingClassifier: ['sklearn.ensemble._gb', 'sklearn.ensemble.gradient_boosting'],
  GradientBoostingRegressor: ['sklearn.ensemble._gb', 'sklearn.ensemble.gradient_boosting'],
  BinomialDeviance: ['sklearn.ensemble._gb_losses'],
  MultinomialDeviance: ['sklearn.ensemble._gb_losses'],
  ExponentialLoss: ['sklearn.ensemble._gb_losses', 'sklearn._loss.loss'],
  LeastSquaresError: ['sklearn.ensemble._gb_losses'],
  LeastAbsoluteError: ['sklearn.ensemble._gb_losses'],
  HuberLossFunction: ['sklearn.ensemble._gb_losses'],
  QuantileLossFunction: ['sklearn.ensemble._gb_losses'],
  DummyClassifier: ['sklearn.dummy'],
  DummyRegressor: ['sklearn.dummy'],
  HistGradientBoostingClassifier: ['sklearn.ensemble._hist_gradient_boosting.gradient_boosting'],
  HistGradientBoostingRegressor: ['sklearn.ensemble._hist_gradient_boosting.gradient_boosting'],
  TreePredictor: ['sklearn.ensemble._hist_gradient_boosting.predictor'],
  _BinMapper: ['sklearn.ensemble._hist_gradient_boosting.binning'],
  // sklearn._loss (HistGradientBoosting ≥ 1.1, GradientBoosting ≥ 1.4)
  HalfSquaredError: ['sklearn._loss.loss'],
  AbsoluteError: ['sklearn._loss.loss'],
  PinballLoss: ['sklearn._loss.loss'],
  HuberLoss: ['sklearn._loss.loss'],
  HalfPoissonLoss: ['sklearn._loss.loss'],
  HalfGammaLoss: ['sklearn._loss.loss'],
  HalfTweedieLoss: ['sklearn._loss.loss'],
  HalfTweedieLossIdentity: ['sklearn._loss.loss'],
  HalfBinomialLoss: ['sklearn._loss.loss'],
  HalfMultinomialLoss: ['sklearn._loss.loss'],
  IdentityLink: ['sklearn._loss.link'],
  LogLink: ['sklearn._loss.link'],
  LogitLink: ['sklearn._loss.link'],
  HalfLogitLink: ['sklearn._loss.link'],
  MultinomialLogit: ['sklearn._loss.link'],
  Interval: ['sklearn._loss.link'],
  // older HistGradientBoosting losses (sklearn < 1.1)
  LeastSquares: ['sklearn.ensemble._hist_gradient_boosting.loss'],
  LeastAbsoluteDeviation: ['sklearn.ensemble._hist_gradient_boosting.loss'],
  BinaryCrossEntropy: ['sklearn.ensemble._hist_gradient_boosting.loss'],
  CategoricalCrossEntropy: ['sklearn.ensemble._hist_gradient_boosting.loss'],
  // preprocessing and composition
  StandardScaler: ['sklearn.preprocessing._data', 'sklearn.preprocessing.data'],
  MinMaxScaler: ['sklearn.preprocessing._data', 'sklearn.preprocessing.data'],
  MaxAbsScaler: ['sklearn.preprocessing._data', 'sklearn.preprocessing.data'],
  RobustScaler: ['sklearn.preprocessing._data', 'sklearn.preprocessing.data'],
  SimpleImputer: ['sklearn.impute._base', 'sklearn.impute'],
  MissingIndicator: ['sklearn.impute._base', 'sklearn.impute'],
  OneHotEncoder: ['sklearn.preprocessing._encoders'],
  FunctionTransformer: ['sklearn.preprocessing._function_transformer'],
  Pipeline: ['sklearn.pipeline'],
  ColumnTransformer: ['sklearn.compose._column_transformer'],
  Bunch: ['sklearn.utils._bunch', 'sklearn.utils'],
};

/** Cython extension types of sklearn._loss: unpickled through `__pyx_unpickle_<Type>` (recorded inert). */
const CY_LOSSES = [
  'CyHalfSquaredError', 'CyAbsoluteError', 'CyPinballLoss', 'CyHuberLoss', 'CyHalfPoissonLoss', 'CyHalfGammaLoss',
  'CyHalfTweedieLoss', 'CyHalfTweedieLossIdentity', 'CyHalfBinomialLoss', 'CyExponentialLoss', 'CyHalfMultinomialLoss',
];

const NUMPY_SCALAR_TYPES = [
  'bool_', 'bool', 'int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32', 'uint64', 'float16', 'float32',
  'float64', 'longdouble', 'complex64', 'complex128', 'object_', 'str_', 'bytes_', 'void', 'intc', 'uintc',
  'longlong', 'ulonglong', 'half', 'single', 'double', 'int_', 'uint', 'float_', 'unicode_', 'string_',
];

const table = new Map<string, AllowedGlobal>();
const add = (g: AllowedGlobal) => table.set(`${g.module}.${g.name}`, g);

for (const [name, modules] of Object.entries(SKLEARN_CLASSES)) {
  for (const module of modules) add({ type: 'class', module, name });
}
for (const cy of CY_LOSSES) {
  add({ type: 'record', module: 'sklearn._loss._loss', name: `__pyx_unpickle_${cy}` });
  add({ type: 'reference', module: 'sklearn._loss._loss', name: cy });
}
for (const numpyCore of ['numpy.core', 'numpy._core']) {
  add({ type: 'native', module: `${numpyCore}.multiarray`, name: '_reconstruct', id: 'numpy._reconstruct' });
  add({ type: 'native', module: `${numpyCore}.multiarray`, name: 'scalar', id: 'numpy.scalar' });
  add({ type: 'native', module: `${numpyCore}.numeric`, name: '_frombuffer', id: 'numpy._frombuffer' });
}
add({ type: 'native', module: 'numpy', name: 'ndarray', id: 'numpy.ndarray' });
add({ type: 'native', module: 'numpy', name: 'dtype', id: 'numpy.dtype' });
for (const t of NUMPY_SCALAR_TYPES) add({ type: 'reference', module: 'numpy', name: t });
// RandomState / Generator objects held by fitted estimators (`_rng`): kept as inert records.
for (const fn of ['__randomstate_ctor', '__bit_generator_ctor', '__generator_ctor']) {
  add({ type: 'record', module: 'numpy.random._pickle', name: fn });
}
for (const bg of ['MT19937', 'PCG64', 'PCG64DXSM', 'Philox', 'SFC64']) {
  add({ type: 'reference', module: `numpy.random._${bg.toLowerCase()}`, name: bg });
}
add({ type: 'reference', module: 'numpy.random.mtrand', name: 'RandomState' });
add({ type: 'class', module: 'joblib.numpy_pickle', name: 'NumpyArrayWrapper' });
add({ type: 'class', module: 'sklearn.externals.joblib.numpy_pickle', name: 'NumpyArrayWrapper' });
add({ type: 'native', module: 'copyreg', name: '_reconstructor', id: 'copyreg._reconstructor' });
add({ type: 'native', module: 'collections', name: 'OrderedDict', id: 'collections.OrderedDict' });
add({ type: 'native', module: '_codecs', name: 'encode', id: '_codecs.encode' });
add({ type: 'native', module: 'codecs', name: 'encode', id: '_codecs.encode' });
for (const b of ['set', 'frozenset', 'bytearray', 'bytes', 'slice', 'complex', 'object', 'list', 'dict', 'tuple'] as const) {
  add({ type: 'native', module: 'builtins', name: b, id: `builtins.${b}` });
}
for (const b of ['float', 'int', 'str', 'bool']) add({ type: 'reference', module: 'builtins', name: b });

/** Python 2 module names that protocol-2 pickles written with `fix_imports` carry. */
const MODULE_ALIASES: Record<string, string> = { __builtin__: 'builtins', copy_reg: 'copyreg' };

/** The allow-list entry for `module.name`, or undefined when it is not allowed. */
export function resolveGlobal(module: string, name: string): AllowedGlobal | undefined {
  const m = MODULE_ALIASES[module] ?? module;
  return table.get(`${m}.${name}`);
}

/** Every allowed global, for documentation and tests. */
export function allowedGlobals(): string[] {
  return [...table.keys()].sort();
}

/** The short class name sklearn converters dispatch on (`sklearn.tree._classes.X` → `X`). */
export function shortClassName(qualified: string): string {
  const i = qualified.lastIndexOf('.');
  return i < 0 ? qualified : qualified.slice(i + 1);
}

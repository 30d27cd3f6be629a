// Reads an XGBoost model file (JSON `model.json` or UBJSON `model.ubj`, as XGBoost 1.x–3.x save
// them) into the few facts a converter needs, checking each field it uses and naming it when it
// is missing or of the wrong type. Schema: XGBoost's doc/model.schema, src/learner.cc
// (learner_model_param), src/gbm/gbtree_model.cc and src/tree/tree_model.cc (SaveModel).
import { ConversionError } from '../model.js';
import { parseUbjson, UbjsonError, type UbjsonLimits, type UbjValue } from './ubjson.js';

const WHO = 'XGBoost model';

/** The objectives converted; anything else is refused. */
export const SUPPORTED_OBJECTIVES = ['reg:squarederror', 'reg:logistic', 'binary:logistic', 'multi:softprob', 'multi:softmax'] as const;
export type XgboostObjective = (typeof SUPPORTED_OBJECTIVES)[number];

export interface XgboostTree {
  left: Int32Array;
  right: Int32Array;
  feature: Int32Array;
  /** Split conditions of branches, leaf values of leaves (float32 values). */
  conditions: Float32Array;
  defaultLeft: Uint8Array;
}

export interface XgboostModel {
  /** `version` of the file, e.g. [1, 7, 4], when recorded. */
  version: number[] | undefined;
  objective: XgboostObjective;
  /** learner_model_param.num_class: 0 for regression and binary objectives. */
  numClass: number;
  numFeature: number;
  /** learner_model_param.base_score as stored (probability space for logistic objectives), one per output group or one for all. */
  baseScore: number[];
  featureNames: string[] | undefined;
  trees: XgboostTree[];
  /** Output group (class) of each tree. */
  treeInfo: Int32Array;
  numParallelTree: number;
  /** Trees before each boosting round (gbtree iteration_indptr), length rounds + 1. */
  iterationIndptr: number[];
  /** learner.attributes: best_iteration, scikit_learn (the sklearn wrapper's JSON), … */
  attributes: Record<string, string>;
}

export interface ReadOptions {
  /** 'json' or 'ubj'; default: detected from the first bytes. */
  format?: 'json' | 'ubj';
  /** Limits of the UBJSON reader; maxBytes applies to JSON files too. */
  limits?: UbjsonLimits;
}

/** Throws ConversionError; `field` '' means the file as a whole. */
function fail(field: string, problem: string, cause?: unknown): never {
  throw new ConversionError(WHO, problem, { ...(field === '' ? {} : { field }), cause });
}

/** JSON or UBJSON, from the first bytes: JSON objects start `{` then whitespace or `"`. */
export function detectFormat(bytes: Uint8Array): 'json' | 'ubj' {
  let i = 0;
  while (i < bytes.length && (bytes[i] === 0x20 || bytes[i] === 0x0a || bytes[i] === 0x0d || bytes[i] === 0x09)) i++;
  if (bytes[i] !== 0x7b) fail('', 'the file is neither a JSON nor a UBJSON object (it does not start with "{")');
  if (i > 0) return 'json';
  const next = bytes[i + 1];
  return next === 0x22 || next === 0x20 || next === 0x0a || next === 0x0d || next === 0x09 ? 'json' : 'ubj';
}

/** Parses the file's bytes into a document (JSON values, or UBJSON values with typed arrays). */
export function parseModelDocument(bytes: Uint8Array, options: ReadOptions = {}): UbjValue {
  const format = options.format ?? detectFormat(bytes);
  const maxBytes = options.limits?.maxBytes ?? 512 * 1024 * 1024;
  if (format === 'ubj') {
    try {
      return parseUbjson(bytes, options.limits);
    } catch (error) {
      if (error instanceof UbjsonError) fail('', `model.ubj is not valid UBJSON: ${error.message}`, error);
      throw error;
    }
  }
  if (bytes.length > maxBytes) fail('', `model.json of ${bytes.length} bytes is larger than the limit of ${maxBytes}`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (error) {
    fail('', 'model.json is not valid UTF-8', error);
  }
  try {
    return JSON.parse(text) as UbjValue;
  } catch (error) {
    fail('', `model.json is not valid JSON: ${(error as Error).message}`, error);
  }
}

// ---------------------------------------------------------------- typed field access

type Doc = UbjValue | undefined;

function isObject(v: Doc): v is Record<string, UbjValue> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v);
}

function describe(v: Doc): string {
  if (v === undefined) return 'missing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (ArrayBuffer.isView(v)) return `a ${v.constructor.name}`;
  return `a ${typeof v}`;
}

function field(parent: Record<string, UbjValue>, key: string): Doc {
  return Object.prototype.hasOwnProperty.call(parent, key) ? parent[key] : undefined;
}

function object(v: Doc, path: string): Record<string, UbjValue> {
  if (!isObject(v)) fail(path, `expected an object, found ${describe(v)}`);
  return v;
}

function string(v: Doc, path: string): string {
  if (typeof v !== 'string') fail(path, `expected a string, found ${describe(v)}`);
  return v;
}

function integer(v: Doc, path: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) fail(path, `expected an integer, found ${typeof v === 'number' ? v : describe(v)}`);
  return v;
}

/** An integer written as a decimal string, as XGBoost writes its parameters ("10"). */
function intString(v: Doc, path: string): number {
  const s = string(v, path);
  if (!/^-?\d{1,15}$/.test(s)) fail(path, `expected an integer in a string, found '${s}'`);
  return Number(s);
}

/** Numeric array elements (JSON array of numbers/booleans, or a UBJSON typed array). */
function numbers(v: Doc, path: string, length: number | undefined): ArrayLike<number> {
  let out: ArrayLike<number>;
  if (Array.isArray(v)) {
    const a = new Float64Array(v.length);
    for (let i = 0; i < v.length; i++) {
      const e = v[i];
      if (typeof e === 'number') a[i] = e;
      else if (typeof e === 'boolean') a[i] = e ? 1 : 0;
      else fail(`${path}[${i}]`, `expected a number, found ${describe(e)}`);
    }
    out = a;
  } else if (v instanceof BigInt64Array) {
    const a = new Float64Array(v.length);
    for (let i = 0; i < v.length; i++) {
      if (v[i] > BigInt(Number.MAX_SAFE_INTEGER) || v[i] < BigInt(Number.MIN_SAFE_INTEGER)) fail(`${path}[${i}]`, `integer ${v[i]} is out of range`);
      a[i] = Number(v[i]);
    }
    out = a;
  } else if (ArrayBuffer.isView(v) && !(v instanceof DataView)) {
    out = v as ArrayLike<number>;
  } else {
    fail(path, `expected an array of numbers, found ${describe(v)}`);
  }
  if (length !== undefined && out.length !== length) fail(path, `has ${out.length} entries, expected ${length}`);
  return out;
}

function int32s(v: Doc, path: string, length: number): Int32Array {
  const a = numbers(v, path, length);
  const out = new Int32Array(length);
  for (let i = 0; i < length; i++) {
    if (!Number.isInteger(a[i]) || a[i] < -2147483648 || a[i] > 2147483647) fail(`${path}[${i}]`, `expected a 32-bit integer, found ${a[i]}`);
    out[i] = a[i];
  }
  return out;
}

// ---------------------------------------------------------------- the model

/** Parses `base_score`: "5E-1" (XGBoost 1.x/2.x) or "[5E-1]" / "[1E0,2E0]" (vector, 3.x). */
function baseScores(v: Doc, path: string): number[] {
  const s = string(v, path).trim();
  const inner = s.startsWith('[') && s.endsWith(']') ? s.slice(1, -1) : s;
  const parts = inner.split(',').map((p) => p.trim());
  return parts.map((p) => {
    const x = Number(p);
    if (p === '' || !Number.isFinite(x)) fail(path, `'${s}' is not a finite number or list of numbers`);
    return Math.fround(x);
  });
}

function readTree(v: Doc, path: string, index: number): XgboostTree {
  const t = object(v, path);
  const param = object(field(t, 'tree_param'), `${path}.tree_param`);
  const n = intString(field(param, 'num_nodes'), `${path}.tree_param.num_nodes`);
  if (n < 1) fail(`${path}.tree_param.num_nodes`, `must be at least 1, got ${n}`);
  const leafVector = field(param, 'size_leaf_vector');
  if (leafVector !== undefined && intString(leafVector, `${path}.tree_param.size_leaf_vector`) > 1) {
    fail(`${path}.tree_param.size_leaf_vector`, 'multi-target trees (vector leaves, multi_strategy="multi_output_tree") are not supported');
  }
  const id = field(t, 'id');
  if (id !== undefined && integer(id, `${path}.id`) !== index) fail(`${path}.id`, `is ${String(id)}, expected ${index}`);
  const splitType = field(t, 'split_type');
  if (splitType !== undefined) {
    const types = numbers(splitType, `${path}.split_type`, n);
    for (let i = 0; i < n; i++) {
      if (types[i] !== 0) fail(`${path}.split_type[${i}]`, 'categorical splits are not supported (enable_categorical models)');
    }
  }
  const conditions = numbers(field(t, 'split_conditions'), `${path}.split_conditions`, n);
  const defaults = numbers(field(t, 'default_left'), `${path}.default_left`, n);
  const defaultLeft = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    if (defaults[i] !== 0 && defaults[i] !== 1) fail(`${path}.default_left[${i}]`, `expected 0 or 1, found ${defaults[i]}`);
    defaultLeft[i] = defaults[i];
  }
  return {
    left: int32s(field(t, 'left_children'), `${path}.left_children`, n),
    right: int32s(field(t, 'right_children'), `${path}.right_children`, n),
    feature: int32s(field(t, 'split_indices'), `${path}.split_indices`, n),
    conditions: Float32Array.from(conditions),
    defaultLeft,
  };
}

/** Reads and checks a parsed model document. Throws ConversionError naming the field. */
export function readXgboostDocument(doc: UbjValue): XgboostModel {
  const root = object(doc, '');
  const versionDoc = field(root, 'version');
  const version = versionDoc === undefined ? undefined : Array.from(numbers(versionDoc, 'version', undefined));
  const learner = object(field(root, 'learner'), 'learner');

  const objectiveDoc = object(field(learner, 'objective'), 'learner.objective');
  const objectiveName = string(field(objectiveDoc, 'name'), 'learner.objective.name');
  if (!(SUPPORTED_OBJECTIVES as readonly string[]).includes(objectiveName)) {
    fail('learner.objective.name', `objective '${objectiveName}' is not supported (supported: ${SUPPORTED_OBJECTIVES.join(', ')})`);
  }
  const objective = objectiveName as XgboostObjective;

  const params = object(field(learner, 'learner_model_param'), 'learner.learner_model_param');
  const numClass = intString(field(params, 'num_class'), 'learner.learner_model_param.num_class');
  const numFeature = intString(field(params, 'num_feature'), 'learner.learner_model_param.num_feature');
  if (numFeature < 1) fail('learner.learner_model_param.num_feature', `must be at least 1, got ${numFeature}`);
  const numTargetDoc = field(params, 'num_target');
  if (numTargetDoc !== undefined && intString(numTargetDoc, 'learner.learner_model_param.num_target') > 1) {
    fail('learner.learner_model_param.num_target', 'multi-output models are not supported');
  }
  const baseScore = baseScores(field(params, 'base_score'), 'learner.learner_model_param.base_score');
  const multiClass = objective === 'multi:softprob' || objective === 'multi:softmax';
  if (multiClass && numClass < 2) fail('learner.learner_model_param.num_class', `${objective} needs num_class ≥ 2, found ${numClass}`);
  if (!multiClass && numClass > 1) fail('learner.learner_model_param.num_class', `${objective} with num_class ${numClass} is not a model XGBoost makes`);
  const groups = Math.max(1, numClass);
  if (baseScore.length !== 1 && baseScore.length !== groups) {
    fail('learner.learner_model_param.base_score', `${baseScore.length} values for ${groups} output groups`);
  }

  const booster = object(field(learner, 'gradient_booster'), 'learner.gradient_booster');
  const boosterName = string(field(booster, 'name'), 'learner.gradient_booster.name');
  if (boosterName !== 'gbtree') {
    const why = boosterName === 'dart' ? 'dart boosters (dropout-weighted trees)' : boosterName === 'gblinear' ? 'gblinear boosters (linear models)' : `booster '${boosterName}'`;
    fail('learner.gradient_booster.name', `${why} are not supported, only gbtree`);
  }
  const model = object(field(booster, 'model'), 'learner.gradient_booster.model');
  if (field(model, 'weight_drop') !== undefined) {
    fail('learner.gradient_booster.model.weight_drop', 'tree weights (a model trained with dart) are not supported');
  }
  const gbParam = object(field(model, 'gbtree_model_param'), 'learner.gradient_booster.model.gbtree_model_param');
  const numTrees = intString(field(gbParam, 'num_trees'), 'learner.gradient_booster.model.gbtree_model_param.num_trees');
  const parallelDoc = field(gbParam, 'num_parallel_tree');
  const numParallelTree = parallelDoc === undefined ? 1 : intString(parallelDoc, 'learner.gradient_booster.model.gbtree_model_param.num_parallel_tree');
  if (numParallelTree < 1) fail('learner.gradient_booster.model.gbtree_model_param.num_parallel_tree', `must be at least 1, got ${numParallelTree}`);
  const treesDoc = field(model, 'trees');
  if (!Array.isArray(treesDoc)) fail('learner.gradient_booster.model.trees', `expected an array, found ${describe(treesDoc)}`);
  if (treesDoc.length !== numTrees) fail('learner.gradient_booster.model.trees', `has ${treesDoc.length} trees, num_trees says ${numTrees}`);
  if (numTrees === 0) fail('learner.gradient_booster.model.trees', 'the model has no trees');
  const treeInfo = int32s(field(model, 'tree_info'), 'learner.gradient_booster.model.tree_info', numTrees);
  for (let i = 0; i < numTrees; i++) {
    if (treeInfo[i] < 0 || treeInfo[i] >= groups) fail(`learner.gradient_booster.model.tree_info[${i}]`, `group ${treeInfo[i]} is not in [0, ${groups})`);
  }
  const trees = treesDoc.map((t, i) => readTree(t, `learner.gradient_booster.model.trees[${i}]`, i));
  for (let i = 0; i < numTrees; i++) {
    const t = trees[i];
    for (let n = 0; n < t.left.length; n++) {
      if (t.left[n] !== -1 && (t.feature[n] < 0 || t.feature[n] >= numFeature)) {
        fail(`learner.gradient_booster.model.trees[${i}].split_indices[${n}]`, `feature ${t.feature[n]} is not below num_feature ${numFeature}`);
      }
    }
  }

  const layer = numParallelTree * groups;
  const indptrDoc = field(model, 'iteration_indptr');
  let iterationIndptr: number[];
  if (indptrDoc !== undefined) {
    iterationIndptr = Array.from(numbers(indptrDoc, 'learner.gradient_booster.model.iteration_indptr', undefined));
    const ok = iterationIndptr[0] === 0 && iterationIndptr[iterationIndptr.length - 1] === numTrees && iterationIndptr.every((v, i) => Number.isInteger(v) && (i === 0 || v >= iterationIndptr[i - 1]));
    if (!ok) fail('learner.gradient_booster.model.iteration_indptr', `is not an increasing list from 0 to ${numTrees}`);
  } else {
    // Older files: every round adds num_parallel_tree trees per output group.
    if (numTrees % layer !== 0) fail('learner.gradient_booster.model.trees', `${numTrees} trees do not make whole rounds of ${layer}`);
    iterationIndptr = Array.from({ length: numTrees / layer + 1 }, (_, r) => r * layer);
  }

  const attributes: Record<string, string> = {};
  const attributesDoc = field(learner, 'attributes');
  if (attributesDoc !== undefined) {
    const a = object(attributesDoc, 'learner.attributes');
    for (const key of Object.keys(a)) attributes[key] = string(a[key], `learner.attributes.${key}`);
  }
  const namesDoc = field(learner, 'feature_names');
  let featureNames: string[] | undefined;
  if (Array.isArray(namesDoc) && namesDoc.length > 0) {
    featureNames = namesDoc.map((n, i) => string(n, `learner.feature_names[${i}]`));
    if (featureNames.length !== numFeature) fail('learner.feature_names', `has ${featureNames.length} names for ${numFeature} features`);
  }

  return { version, objective, numClass, numFeature, baseScore, featureNames, trees, treeInfo, numParallelTree, iterationIndptr, attributes };
}

/** Reads a model file's bytes (JSON or UBJSON). Throws ConversionError. */
export function readXgboostModel(bytes: Uint8Array, options: ReadOptions = {}): XgboostModel {
  return readXgboostDocument(parseModelDocument(bytes, options));
}

/**
 * Parses the sklearn wrapper's `scikit_learn` attribute: JSON written by Python's json.dumps,
 * which spells non-finite floats NaN, Infinity and -Infinity (not JSON). Those tokens, outside
 * strings only, are read as numbers.
 */
export function parsePythonJson(text: string): unknown {
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      out += c;
      if (c === '\\') out += text[++i] ?? '';
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') {
      inString = true;
      out += c;
      continue;
    }
    const rest = text.startsWith('NaN', i) ? 'NaN' : text.startsWith('-Infinity', i) ? '-Infinity' : text.startsWith('Infinity', i) ? 'Infinity' : undefined;
    if (rest !== undefined) {
      out += `{"$float":"${rest}"}`;
      i += rest.length - 1;
      continue;
    }
    out += c;
  }
  return JSON.parse(out, (_key, value: unknown) => {
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      const keys = Object.keys(value);
      const tag = (value as Record<string, unknown>).$float;
      if (keys.length === 1 && typeof tag === 'string') return Number(tag);
    }
    return value;
  });
}

// The runtime registry: every runtime Tessera can serve models with. The worker, the loader, the
// repository scanner and the model configuration ask it (through core's RuntimeCatalogue
// interface on the main thread); nothing else knows a runtime's files or options.
//
// Adding a runtime: write src/runtimes/<name>.ts exporting a defineRuntime(...) declaration and add
// it to RUNTIMES below.
import type { RuntimeCatalogue } from '../core/settings.js';
import { customRuntime } from './custom.js';
import { mlflowRuntime } from './mlflow.js';
import { onnxRuntime } from './onnx.js';
import type { RuntimeDefinition } from './runtime.js';
import { sklearnRuntime } from './sklearn.js';
import { xgboostRuntime } from './xgboost.js';

/**
 * Tried in this order when a model's `implementation` is matched: custom modules first (a path
 * such as ./onnx_helper.mjs names a module, whatever it contains). Also the order in which a
 * folder's files are recognised: an MLflow folder of the onnx flavor (MLmodel beside model.onnx)
 * is an MLflow model; a folder with model.onnx beside a pickle is an ONNX model.
 */
const RUNTIMES: readonly RuntimeDefinition[] = [
  customRuntime,
  mlflowRuntime,
  onnxRuntime,
  sklearnRuntime,
  xgboostRuntime,
];

/** The runtime of models whose settings name no implementation. */
export const DEFAULT_RUNTIME = onnxRuntime.name;

const byName = new Map(RUNTIMES.map((r) => [r.name, r]));

export function runtimeDefinition(name: string): RuntimeDefinition {
  const runtime = byName.get(name);
  if (runtime === undefined) throw new Error(`unknown runtime '${name}' (known: ${[...byName.keys()].join(', ')})`);
  return runtime;
}

export const runtimes: RuntimeCatalogue = {
  select(implementation) {
    const value = implementation?.trim() ?? '';
    if (value === '') return byName.get(DEFAULT_RUNTIME)!;
    return RUNTIMES.find((r) => r.selects(value)) ?? null;
  },
  recognise(fileNames) {
    return RUNTIMES.find((r) => r.modelFiles.some((f) => fileNames.includes(f))) ?? null;
  },
  get: (name) => byName.get(name),
  all: () => RUNTIMES,
};

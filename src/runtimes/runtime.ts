// What a runtime is. Each runtime is one module that declares, for the main thread, how it
// recognises its models and validates its options, and, for the pool workers, how it prepares,
// loads and runs them. The worker side is imported lazily inside a worker (`worker()`), so heavy
// dependencies (onnxruntime-node) never load on the main thread, where a blocking run would stall
// every connection. A new runtime is one new file and one line in registry.ts.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { z } from 'zod';
import type { ModelArtifact, ModelSpec, RuntimeMetadata } from '../core/backend.js';
import type { AdapterContext, RequestAdapter } from '../core/adapter.js';
import type { OptionsContext, RuntimeInfo } from '../core/settings.js';
import type { Tensor } from '../core/tensor.js';
import type { Parameters } from '../core/types.js';

export type { ModelArtifact, ModelSpec, RuntimeMetadata } from '../core/backend.js';
export type { AdapterContext, RequestAdapter } from '../core/adapter.js';
export type { OptionsContext } from '../core/settings.js';

/** What one execution knows besides its tensors. */
export interface RunContext {
  /** The request's parameters (control keys left out); undefined for a batch of several requests. */
  parameters?: Parameters | undefined;
  /** Absolute deadline of the execution, ms since the epoch; undefined: none. */
  deadline?: number | undefined;
}

export interface LoadedModel {
  readonly metadata: RuntimeMetadata;
  /** Runs the model; `outputs` names the outputs to compute, in the order they are returned. */
  run(inputs: readonly Tensor[], outputs: readonly string[], context: RunContext): Promise<Tensor[]>;
  dispose(): Promise<void>;
}

/** The worker side of a runtime, made inside a pool worker. */
export interface WorkerRuntime {
  /**
   * Optional, run in ONE worker before any worker loads the model: turns its source (a file, a
   * folder, a pickle, an MLflow model) into the artifact every worker then loads, e.g. ONNX bytes
   * in a SharedArrayBuffer. A replacement worker loads from the same artifact, not from disk.
   */
  prepare?(spec: ModelSpec): Promise<ModelArtifact | undefined>;
  load(spec: ModelSpec): Promise<LoadedModel>;
}

/** A runtime as the registry holds it. */
export interface RuntimeDefinition extends RuntimeInfo {
  /** Whether an `implementation` value in model settings selects this runtime. */
  selects(implementation: string): boolean;
  /**
   * True when the runtime runs only JavaScript: a worker stuck in it past a request's deadline may
   * be terminated and replaced. False for native code: terminating a worker thread inside an
   * onnxruntime run aborts the whole process, so such workers are never terminated.
   */
  readonly terminable: boolean;
  /** The worker side, imported on first use inside a worker. */
  worker(): Promise<WorkerRuntime>;
  /**
   * Present when the runtime's models may also run on the main thread (inline execution, see
   * batching/inline.ts): the options of that main-thread instance, made from the workers' (ONNX
   * Runtime: one intra-op thread). Absent (custom runtimes: user JavaScript that may block
   * forever): the runtime's models always run on the workers.
   */
  mainThreadOptions?(options: unknown): unknown;
}

/** A runtime's declaration, with its options schema (parameters.extra). */
export interface RuntimeDeclaration<S extends z.ZodType, O> {
  name: string;
  platform: string;
  backend: string;
  modelFiles: readonly string[];
  selects(implementation: string): boolean;
  /** The file a model means (default: the uri itself, or the first of modelFiles inside a folder). */
  locate?(model: { folder: string; uri: string; implementation: string | undefined }): string;
  /** parameters.extra, validated on the main thread when the model is loaded. */
  options: S;
  /** Defaults that depend on the pool (ONNX threads = cores / workers) or the server (cache folder). */
  resolveOptions?(options: z.output<S>, context: OptionsContext): O;
  terminable: boolean;
  worker(): Promise<WorkerRuntime>;
  /**
   * Main thread, once the workers hold the model: the request adapter fronting its tensors, if
   * clients send other tensors than the runtime runs (MLflow signatures). See core/adapter.ts.
   */
  adapter?(context: AdapterContext): RequestAdapter | undefined;
  /** See RuntimeDefinition.mainThreadOptions. */
  mainThreadOptions?(options: O): O;
}

function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.length > 0 ? `${i.path.map(String).join('.')}: ` : ''}${i.message}`).join('; ');
}

/** The uri itself, or (for a folder) the first of the runtime's model files inside it. */
function locateIn(modelFiles: readonly string[]): (model: { uri: string }) => string {
  return ({ uri }) => {
    if (!existsSync(uri) || !statSync(uri).isDirectory()) return uri;
    const file = modelFiles.find((f) => existsSync(join(uri, f)));
    return file === undefined ? uri : join(uri, file);
  };
}

/** Turns a declaration into a registry entry (options validated with its schema, clear messages). */
export function defineRuntime<S extends z.ZodType, O = z.output<S>>(declaration: RuntimeDeclaration<S, O>): RuntimeDefinition {
  const { options: schema, resolveOptions, locate, mainThreadOptions, ...rest } = declaration;
  return {
    ...rest,
    ...(mainThreadOptions === undefined ? {} : { mainThreadOptions: (options: unknown) => mainThreadOptions(options as O) }),
    locate: locate ?? locateIn(rest.modelFiles),
    options(extra, context) {
      const parsed = schema.safeParse(extra ?? {});
      if (!parsed.success) throw new Error(describeIssues(parsed.error));
      return resolveOptions === undefined ? parsed.data : resolveOptions(parsed.data, context);
    },
  };
}

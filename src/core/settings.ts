// Model settings as core reads them, and the interfaces core needs injected to find models: a
// settings reader (config/ implements it: files, environment, validation) and a runtime catalogue
// (runtimes/ implements it: which runtime a model uses, its files, its options).
//
// ModelSettings is the shape config/'s zod schema produces (config/schema.ts checks that at compile
// time). Only model-config.ts interprets these fields; everything else reads the ModelConfiguration.
import type { AdapterContext, RequestAdapter } from './adapter.js';
import type { TensorMetadata } from './types.js';

export interface TensorSettings {
  name: string;
  datatype: TensorMetadata['datatype'];
  shape: number[];
  parameters?: Record<string, unknown>;
}

export interface ModelParameterSettings {
  uri?: string;
  version?: string;
  content_type?: string;
  format?: string;
  extra?: Record<string, unknown>;
  instance_count?: number;
  /** Where requests run: on the workers, inline on the main thread, or chosen from measured run times (batching/inline.ts). */
  execution?: 'auto' | 'inline' | 'workers';
  [key: string]: unknown;
}

export interface ModelSettings {
  name?: string;
  implementation?: string;
  platform: string;
  versions: string[];
  inputs: TensorSettings[];
  outputs: TensorSettings[];
  max_batch_size: number;
  max_batch_time: number;
  preferred_batch_size: number[];
  /** Absent: derived from the batch size and instances (model-config.ts); 0: no limit. */
  max_queue_size?: number;
  queue_timeout: number;
  priority_levels: number;
  default_priority_level: number;
  request_timeout: number;
  parameters: ModelParameterSettings;
  [key: string]: unknown;
}

export type Env = Record<string, string | undefined>;

/** Reads one model-settings.json (or none, for a zero-config model) with the environment over it. */
export interface SettingsReader {
  /** Throws SettingsError naming the file, the field and the problem. */
  read(file: string | null, env: Env): { settings: ModelSettings; warnings: string[] };
}

/** What core knows of a runtime: enough to find, describe and configure its models. */
export interface RuntimeInfo {
  readonly name: string;
  /** Reported in metadata when the settings name no platform (e.g. onnxruntime_onnx). */
  readonly platform: string;
  /** Triton's backend name, for the model configuration extension (e.g. onnxruntime). */
  readonly backend: string;
  /** File names that make a folder a model of this runtime (zero-config folders, version folders). */
  readonly modelFiles: readonly string[];
  /** The file a model means: its uri itself, or the runtime's file inside a folder. */
  locate(model: { folder: string; uri: string; implementation: string | undefined }): string;
  /**
   * parameters.extra validated against the runtime's options schema, defaults resolved (some
   * depend on the pool size). Throws an Error naming the field and the problem.
   */
  options(extra: Record<string, unknown> | undefined, context: OptionsContext): unknown;
  /**
   * Optional, main thread, once the workers have loaded the model: the request adapter that fronts
   * the runtime's tensors (see adapter.ts), or undefined when clients send the runtime's own.
   * Throws an Error to fail the load with that reason.
   */
  adapter?(context: AdapterContext): RequestAdapter | undefined;
}

/** What a runtime's options may depend on besides parameters.extra. */
export interface OptionsContext {
  /** Worker threads in the pool. */
  workers: number;
  /**
   * A folder the runtime may keep what its prepare step makes (converted models) across restarts;
   * null: no cache. Never inside a model's own folder.
   */
  cacheDir?: string | null | undefined;
}

export interface RuntimeCatalogue {
  /** The runtime an `implementation` value selects (undefined or '': the default); null if none does. */
  select(implementation: string | undefined): RuntimeInfo | null;
  /** The runtime whose model file is among a folder's file names (zero-config discovery). */
  recognise(fileNames: readonly string[]): RuntimeInfo | null;
  get(name: string): RuntimeInfo | undefined;
  /** Every runtime, in the order they are tried. */
  all(): readonly RuntimeInfo[];
}

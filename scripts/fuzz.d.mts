// Types of scripts/fuzz.mjs for the TypeScript tests that import it.
export declare const FUZZ_MODELS: string[];

export interface FuzzOptions {
  url: string;
  grpcAddress: string;
  seed: number;
  count?: number;
  seconds?: number;
  concurrency?: number;
  /** Reads the server's resident memory in bytes. */
  rss?: () => number | undefined | Promise<number | undefined>;
  only?: number;
  onProgress?: (done: number) => void;
}

export interface FuzzFailure {
  index: number;
  surface: string;
  problem: string;
}

export interface FuzzResult {
  seed: number;
  requests: number;
  counts: { http_json: number; http_binary: number; grpc: number };
  outcomes: Record<string, number>;
  failed: number;
  failures: FuzzFailure[];
  rss: { start: number; max: number; end: number } | undefined;
}

export declare function runFuzz(options: FuzzOptions): Promise<FuzzResult>;

// Size limits on what one inference request may ask the server to allocate, checked by every
// decoder (HTTP JSON, HTTP binary, gRPC) from the shapes alone, before any tensor memory exists:
// a 100-byte request naming shape [1e9, 1e9] is refused with a 400 naming the limit, never
// allocated (which would throw a RangeError, a 500 logged with a stack).
import { limitExceeded } from './errors.js';

export interface TensorLimits {
  /** Most elements in one input tensor (max_tensor_elements). */
  maxTensorElements: number;
  /** Most elements in all inputs of one request together (max_request_elements). */
  maxRequestElements: number;
}

/**
 * 64 Mi elements: more than any body under the default 64 MiB body limit can carry (a JSON
 * element takes at least 2 bytes, a binary one at least 1), and 256 MiB as FP32.
 */
export const DEFAULT_TENSOR_LIMITS: TensorLimits = { maxTensorElements: 64 * 1024 * 1024, maxRequestElements: 64 * 1024 * 1024 };

/** Counts the elements of each input of one request against the limits, as the shapes arrive. */
export class ElementBudget {
  private total = 0;
  constructor(private readonly limits: TensorLimits) {}

  /**
   * The element count of `shape` (input `where`), once checked against both limits; throws
   * LIMIT_EXCEEDED (400 / RESOURCE_EXHAUSTED) naming the input, its shape and the setting.
   */
  take(where: string, shape: readonly number[]): number {
    let count = 1;
    for (const d of shape) count *= d; // doubles: an absurd shape overflows to a huge number or Infinity, never wraps
    const shown = (): string => `[${shape.join(',')}]`; // for the messages only: not made on every request
    if (count > this.limits.maxTensorElements) {
      throw limitExceeded(`${where}: shape ${shown()} has ${count} elements, more than max_tensor_elements (${this.limits.maxTensorElements})`);
    }
    // One dimension beyond the limit (with a 0 elsewhere, so no elements at all) is refused too:
    // runtimes cannot take such dims (ONNX Runtime's binding rejects dims past 2^31 - 1).
    const huge = shape.findIndex((d) => d > this.limits.maxTensorElements);
    if (huge >= 0) {
      throw limitExceeded(`${where}: dimension ${huge} of shape ${shown()} is larger than max_tensor_elements (${this.limits.maxTensorElements})`);
    }
    this.total += count;
    if (this.total > this.limits.maxRequestElements) {
      throw limitExceeded(
        `${where}: the request's inputs have ${this.total} elements together, more than max_request_elements (${this.limits.maxRequestElements})`,
      );
    }
    return count;
  }
}

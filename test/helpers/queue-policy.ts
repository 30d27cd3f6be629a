// A scheduler's queue policy for tests that drive ModelScheduler directly: one slot, no batching,
// no queue limits, two priority levels; each test overrides what it exercises.
import type { QueuePolicy } from '../../src/core/scheduling.js';

export const PROBE = { key: 'probe#1', label: 'probe', model: 'probe', version: '' };

export function queuePolicy(p: Partial<QueuePolicy> = {}): QueuePolicy {
  return {
    slots: 1,
    maxBatchSize: 0,
    maxBatchTimeMs: 0,
    preferredBatchSizes: [],
    maxQueueSize: 0,
    queueTimeoutMs: 0,
    priorityLevels: 2,
    defaultPriority: 2,
    ...p,
  };
}

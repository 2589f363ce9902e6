import { availableParallelism } from 'node:os';

/**
 * Worker threads generate uses by default: one per core this process may run on (the CPU
 * affinity a scheduler such as Slurm sets is respected), at most 16, at least 1. The data never
 * depends on the count; 2 workers on 2 cores measured fastest on the development machine (the
 * main thread mostly waits on them and commits).
 */
export function defaultWorkerCount(): number {
  return Math.max(1, Math.min(16, availableParallelism()));
}

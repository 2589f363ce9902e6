/**
 * Only src/pipeline/train-conv.ts imports this path: TrainingLogEntry lives in training-log.ts and
 * the keypoint model in keypoints/. Delete this file once train-conv.ts imports training-log.ts.
 */
export type { TrainingLogEntry } from './training-log.js';

/** The training log every world-model family reports (progress, model.json's training losses). */
export interface TrainingLogEntry {
  /** state / dynamics: the keypoint model's phases (epochs); train: the convolutional model's gradient steps. */
  readonly phase: 'state' | 'dynamics' | 'train';
  readonly epoch: number;
  readonly loss: number;
  readonly parts: Record<string, number>;
}

/** The world-model notes' toy task and the latent model trained on it, shared by the model tests. */
import { trainLatentModel } from '../../src/model/keypoints/train.js';
import { transitionsFromEpisodes } from '../../src/model/transitions.js';
import { toyEpisode } from '../unit/model/toy.js';

/** 60 toy episodes of 30 steps, every fifth held out, and a latent model trained on the rest. */
export function toyTraining() {
  const episodes = Array.from({ length: 60 }, (_, k) => toyEpisode(k, 30));
  const t = transitionsFromEpisodes(episodes, { camera: 'main' });
  const train = episodes.map((_, i) => i).filter((i) => i % 5 !== 4);
  const heldout = episodes.map((_, i) => i).filter((i) => i % 5 === 4);
  const bounds = { low: new Float32Array([-1, -1]), high: new Float32Array([1, 1]) };
  const options = { latent: 28, keypoints: 3, hidden: 48, stateEpochs: 15, dynamicsEpochs: 25, seed: 1 };
  const { model, log } = trainLatentModel(t, train, bounds, options);
  return { episodes, t, train, heldout, bounds, options, model, log };
}

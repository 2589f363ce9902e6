/**
 * The pure half of the LeRobot writer: what an episode becomes before any file is touched (its
 * side file and its frames' histograms). Worker threads import this, not the writer, so they load
 * no parquet code.
 */
import type { EpisodeData } from '../../dataset/episode.js';
import { episodeExtras, type EpisodeExtra } from '../../dataset/extras.js';
import type { DatasetMeta } from '../../dataset/meta.js';
import { npzBytes, type NpyArray } from '../../dataset/npz.js';
import { ImageHistogram } from '../../dataset/stats.js';
import { videoCameras, videoKey } from './format.js';

/** What a worker prepares of a LeRobot episode: its extras file and its frames' histograms. */
export interface LeRobotEncoded {
  extras: Uint8Array;
  /** Per rgb camera (video key): 256-bin histograms (exact image stats). */
  histograms: Record<string, ReturnType<ImageHistogram['toJSON']>>;
}

export function encodeEpisode(ep: EpisodeData, meta: DatasetMeta): LeRobotEncoded {
  const extras = episodeExtras(meta, ep); // fails before anything of the episode is written
  const histograms: LeRobotEncoded['histograms'] = {};
  for (const cam of videoCameras(meta)) {
    const frames = ep.frames.find((f) => f.camera === cam.name && f.channel === 'rgb')!;
    const hist = new ImageHistogram(3);
    hist.add(frames.data as Uint8Array, ep.length);
    histograms[videoKey(cam.name)] = hist.toJSON();
  }
  return { extras: episodeExtrasBytes(ep, extras), histograms };
}

/** One episode's extras file (npz bytes). */
function episodeExtrasBytes(ep: EpisodeData, extras: EpisodeExtra[]): Uint8Array {
  const arrays: Record<string, NpyArray> = {};
  for (const f of ep.finalFrames) {
    const C = f.data.length / (f.width * f.height);
    const dtype = f.data instanceof Uint8Array ? '|u1' : f.data instanceof Uint16Array ? '<u2' : '<f4';
    arrays[`final/${f.camera}.${f.channel}`] = { dtype, shape: C === 1 ? [f.height, f.width] : [f.height, f.width, C], data: f.data };
  }
  arrays.final_obs = { dtype: '<f4', shape: [ep.finalObs.length], data: ep.finalObs };
  for (const x of extras) if (x.final) arrays[`final_extra/${x.key}`] = { dtype: '<f4', shape: [x.dim], data: x.final };
  const f64 = (xs: number[], cols: number): NpyArray => ({ dtype: '<f8', shape: [xs.length / cols, cols], data: Float64Array.from(xs) });
  for (const b of ep.bodies) {
    arrays[`body/${b.id}/positions`] = f64(b.positions, 3);
    arrays[`body/${b.id}/quaternions`] = f64(b.quaternions, 4);
    arrays[`body/${b.id}/velocities`] = f64(b.velocities, 3);
    arrays[`body/${b.id}/angular_velocities`] = f64(b.angularVelocities, 3);
  }
  for (const c of ep.cameras) {
    arrays[`camera/${c.name}/positions`] = f64(c.positions, 3);
    arrays[`camera/${c.name}/quaternions`] = f64(c.quaternions, 4);
    arrays[`camera/${c.name}/K`] = f64(c.K.flat(), 3);
    arrays[`camera/${c.name}/world_to_camera`] = f64(c.worldToCamera.flat(), 4);
  }
  return npzBytes(arrays);
}

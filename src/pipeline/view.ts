/**
 * trajforge view DIR: a local page to look through a LeRobot v3 dataset (trajforge's or another
 * tool's): the episode table, each camera's frames with the stored aux channels as false-colour
 * overlays, every state/action/reward dimension plotted against time, the stats and sizes, and
 * with a world model its open-loop predictions. The dataset is checked before anything listens;
 * a file found damaged later answers an API error the page shows.
 */
import { TrajforgeError } from '../core/errors.js';
import { cardTransitionOptions, checkModelTarget, datasetTarget, type ModelCard } from '../model/card.js';
import { predictWindow } from '../model/evaluate.js';
import { WorldModelSession } from '../model/session.js';
import { readModelCard, readModelParts } from '../model/store.js';
import { frameRows, transitionsFromEpisodes, type TrainingEpisode } from '../model/transitions.js';
import { binary, json, startWebServer, type Route, type WebResponse } from '../web/server.js';
import { ERROR_GAIN, PANEL_GAP } from './predict.js';
import { resolveIn, type NoticeCallback } from './progress.js';
import { ViewData, type FrameRange } from './view-data.js';

export interface ViewOptions {
  /** The dataset folder (a LeRobot v3 dataset, or a folder holding one as lerobot/). */
  dir: string;
  /** 0 or absent: a free port. */
  port?: number;
  /** 127.0.0.1 unless given; any other host is announced as a notice. */
  host?: string;
  /** A world model folder (trajforge train): the page shows its open-loop predictions. */
  model?: string;
  /** Bytes of decoded frames the server keeps (default 512 MiB). */
  cacheBytes?: number;
  cwd?: string;
  onNotice?: NoticeCallback;
}

export interface ViewServer {
  url: string;
  port: number;
  /** The LeRobot folder shown. */
  dir: string;
  episodes: number;
  /** Seconds from the call to the server listening (the dataset opened, the bundle built). */
  openSeconds: number;
  close(): Promise<void>;
}

/** Frames one predict request may roll out (the page asks for shorter windows). */
export const MAX_HORIZON = 500;

export async function viewDataset(opts: ViewOptions): Promise<ViewServer> {
  const t0 = performance.now();
  if (typeof opts.dir !== 'string' || opts.dir === '') throw new TrajforgeError('E_USAGE', 'view needs a dataset folder');
  if (opts.port !== undefined && !(Number.isInteger(opts.port) && opts.port >= 0 && opts.port <= 65535)) throw new TrajforgeError('E_USAGE', `--port must be an integer from 0 to 65535, got '${opts.port}'`);
  const data = await ViewData.open(resolveIn(opts.cwd, opts.dir), opts.cacheBytes !== undefined ? { cacheBytes: opts.cacheBytes } : {});
  const model = opts.model === undefined ? null : await loadModel(data, resolveIn(opts.cwd, opts.model), opts.onNotice);
  if (model) data.setModel({ id: model.card.id, camera: model.card.camera, width: model.card.decoded.width, height: model.card.decoded.height });
  let server;
  try {
    server = await startWebServer({
      app: 'view',
      title: `${data.info.envId} · trajforge view`,
      ...(opts.host !== undefined ? { host: opts.host } : {}),
      ...(opts.port !== undefined ? { port: opts.port } : {}),
      routes: viewRoutes(data, model),
      onNotice: (m) => opts.onNotice?.(m, 'input'),
    });
  } catch (e) {
    await model?.session.release();
    throw e;
  }
  const s = server;
  return {
    url: s.url,
    port: s.port,
    dir: data.dir,
    episodes: data.episodeCount,
    openSeconds: (performance.now() - t0) / 1000,
    close: async () => {
      await s.close();
      await model?.session.release();
    },
  };
}

interface LoadedModel {
  card: ModelCard;
  session: WorldModelSession;
}

async function loadModel(data: ViewData, dir: string, onNotice: NoticeCallback | undefined): Promise<LoadedModel> {
  const card = readModelCard(dir);
  const actionDims = data.series.find((s) => s.feature === 'action')?.names.length ?? 0;
  const target = datasetTarget(
    {
      envId: data.info.writtenBy === 'trajforge' ? data.info.envId : card.dataset.env_id,
      configHash: data.info.writtenBy === 'trajforge' ? data.info.configHash : card.dataset.config_hash,
      cameras: data.cameras.filter((c) => c.videoKey).map((c) => ({ name: c.name, width: c.width, height: c.height, channels: ['rgb'] })),
      discrete: data.info.discrete,
      actionNames: Array.from({ length: actionDims }, (_, i) => String(i)),
    },
    data.dir,
  );
  const { note } = checkModelTarget(card, target);
  if (note) onNotice?.(note, 'input');
  const session = await WorldModelSession.load(card, readModelParts(dir, card), {}, dir);
  return { card, session };
}

/**
 * An integer query parameter in [min, max] (default `fallback`), written in decimal digits; anything
 * else (a sign, hex, exponent, spaces, a fraction, a value out of range) is a 400 naming it.
 */
function intParam(query: URLSearchParams, name: string, fallback: number, min: number, max: number): number {
  const raw = query.get(name);
  if (raw === null || raw === '') return fallback;
  const v = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(v) || v < min || v > max) {
    throw new TrajforgeError('E_USAGE', `${name} must be an integer from ${min} to ${max}, got '${raw.slice(0, 40)}'`);
  }
  return v;
}

function episodeParam(data: ViewData, raw: string | undefined): number {
  const v = Number(raw);
  if (!raw || !/^\d+$/.test(raw) || !Number.isSafeInteger(v)) throw new TrajforgeError('E_USAGE', `episode must be a non-negative integer, got '${String(raw).slice(0, 40)}'`);
  data.episodeMeta(v);
  return v;
}

/**
 * The frames route's answer: frames [from, from + count) of an episode, at most one window of them
 * (x-count says how many came; the page asks again from there), with their size in headers
 * (x-width, x-height, x-from, x-count, x-length, x-max-count).
 */
async function frameSlice(data: ViewData, index: number, camera: string, query: URLSearchParams, read: (from: number, count: number) => Promise<FrameRange>): Promise<WebResponse> {
  const length = Number(data.episodeMeta(index).length);
  const max = data.framesPerWindow(camera);
  const from = intParam(query, 'from', 0, 0, Math.max(0, length - 1));
  const count = intParam(query, 'count', Math.min(max, Math.max(1, length - from)), 1, Math.max(1, length - from));
  const r = await read(from, count);
  return binary(r.data, {
    'x-width': String(r.width),
    'x-height': String(r.height),
    'x-from': String(r.from),
    'x-count': String(r.count),
    'x-length': String(r.length),
    'x-max-count': String(max),
  });
}

/** Bytes of one episode's camera frames the model panel decodes at most (it rolls out over the whole episode). */
export const MAX_PREDICT_FRAME_BYTES = 1024 * 2 ** 20;

/** The viewer's API (see ViewSummary and EpisodeSeries for the JSON shapes). */
export function viewRoutes(data: ViewData, model: LoadedModel | null): Route[] {
  const routes: Route[] = [
    { method: 'GET', pattern: '/api/dataset', handle: async () => json(await data.summary()) },
    { method: 'GET', pattern: '/api/episodes/:index', handle: async (_req, p) => json(await data.episodeSeries(episodeParam(data, p.index))) },
    {
      method: 'GET',
      pattern: '/api/episodes/:index/frames/:camera',
      handle: async (req, p) => {
        const index = episodeParam(data, p.index);
        const camera = data.camera(p.camera!).name;
        return frameSlice(data, index, camera, req.query, (from, count) => data.frames(index, camera, from, count));
      },
    },
    {
      method: 'GET',
      pattern: '/api/episodes/:index/overlay/:camera/:channel',
      handle: async (req, p) => {
        const index = episodeParam(data, p.index);
        const camera = data.camera(p.camera!).name;
        data.overlayChannel(camera, p.channel!);
        return frameSlice(data, index, camera, req.query, (from, count) => data.overlay(index, camera, p.channel!, from, count));
      },
    },
  ];
  if (model) {
    routes.push({
      method: 'GET',
      pattern: '/api/episodes/:index/predict',
      handle: async (req, p) => {
        const index = episodeParam(data, p.index);
        const length = Number(data.episodeMeta(index).length);
        // The last frame to compare with: the observation after the last step where the dataset
        // keeps it (trajforge's sidecars), else the last stored frame.
        const final = data.finalFrame(index, model.card.camera);
        const last = final ? length : length - 1;
        if (last < 1) throw new TrajforgeError('E_USAGE', `episode ${index} has ${length} step(s) and no frame after them: nothing to predict`);
        const start = intParam(req.query, 'start', 0, 0, last - 1);
        const horizon = intParam(req.query, 'horizon', Math.min(last - start, 50), 1, Math.min(last - start, MAX_HORIZON));
        const r = await predictPanels(data, model, index, start, horizon, final);
        return binary(r.frames, { 'x-width': String(r.width), 'x-height': String(r.height), 'x-count': String(horizon + 1), 'x-from': String(start), 'x-panel-width': String(model.card.decoded.width), 'x-mse': r.mse.map((m) => m.toPrecision(6)).join(',') });
      },
    });
  }
  return routes;
}

/** Every rgb frame of one camera in one episode, window by window; refused past MAX_PREDICT_FRAME_BYTES. */
async function episodeFrames(data: ViewData, index: number, camera: string): Promise<{ width: number; height: number; length: number; data: Uint8Array }> {
  const cam = data.camera(camera);
  const length = Number(data.episodeMeta(index).length);
  const frameBytes = cam.width * cam.height * 3;
  if (length * frameBytes > MAX_PREDICT_FRAME_BYTES) {
    throw new TrajforgeError('E_USAGE', `episode ${index} holds ${length} frames of ${cam.width}x${cam.height} (${Math.round((length * frameBytes) / 2 ** 20)} MiB decoded), over the model panel's ${MAX_PREDICT_FRAME_BYTES / 2 ** 20} MiB; run \`trajforge predict\` on it instead`);
  }
  const out = new Uint8Array(length * frameBytes);
  for (let from = 0; from < length; ) {
    const r = await data.frames(index, camera, from);
    out.set(r.data, from * frameBytes);
    from += r.count;
  }
  return { width: cam.width, height: cam.height, length, data: out };
}

export interface PredictPanels {
  /** horizon + 1 frames (the start frame, then one per predicted step) of truth | prediction | error, rgb24. */
  frames: Uint8Array;
  width: number;
  height: number;
  /** Per predicted step: per-pixel MSE against the truth (at the model's decoded size). */
  mse: number[];
}

/** Open-loop prediction from `start` over `horizon` of the episode's actions, as `trajforge predict` computes it, drawn unscaled. */
export async function predictPanels(data: ViewData, model: LoadedModel, index: number, start: number, horizon: number, final: Uint8Array | null = null): Promise<PredictPanels> {
  const card = model.card;
  const block = await episodeFrames(data, index, card.camera);
  const series = await data.episodeSeries(index);
  const column = (feature: string) => series.columns.find((c) => c.feature === feature);
  const state = column('observation.state');
  const action = column('action');
  if (!action) throw new TrajforgeError('E_MODEL_SHAPE', `${data.dir} has no action feature to roll the model out with`);
  const T = block.length;
  const flat = (c: typeof state, width: number) => {
    const out = new Float32Array(T * width);
    for (let t = 0; t < T; t++) for (let j = 0; j < width; j++) out[t * width + j] = c?.values[j]?.[t] ?? 0;
    return out;
  };
  const D = state?.names.length ?? 0;
  const A = action.names.length;
  const frameBytes = block.width * block.height * 3;
  const episode: TrainingEpisode = {
    episode: index,
    length: T,
    obsDim: D,
    actionDim: A,
    discrete: card.action.discrete ?? false,
    obs: flat(state, D),
    actions: flat(action, A),
    rewards: new Float32Array(T),
    terminated: new Uint8Array(T),
    frames: [{ camera: card.camera, channel: 'rgb', width: block.width, height: block.height, data: block.data }],
    // The frame after the last step where the dataset keeps it; otherwise the prediction stops
    // before it, and the last stored frame stands in. The state is not predicted from here.
    finalObs: flat(state, D).subarray((T - 1) * D),
    finalFrames: [{ camera: card.camera, channel: 'rgb', width: block.width, height: block.height, data: final ?? block.data.subarray((T - 1) * frameBytes) }],
  };
  const tr = transitionsFromEpisodes([episode], cardTransitionOptions(card));
  const W = card.decoded.width;
  const H = card.decoded.height;
  const P = W * H * 3;
  const window = await predictWindow(model.session, tr, 0, start, horizon);
  const width = 3 * W + 2 * PANEL_GAP;
  const frames = new Uint8Array((horizon + 1) * width * H * 3).fill(255);
  const mse: number[] = [];
  const err = new Float32Array(P);
  for (let h = 0; h <= horizon; h++) {
    const truth = frameRows(tr, [start + h]);
    const pred = h === 0 ? truth : window.subarray((h - 1) * P, h * P);
    let s = 0;
    for (let j = 0; j < P; j++) {
      const d = truth[j]! - pred[j]!;
      s += d * d;
      err[j] = Math.min(1, ERROR_GAIN * Math.abs(d));
    }
    if (h > 0) mse.push(s / P);
    const base = h * width * H * 3;
    [truth, pred, err].forEach((panel, n) => {
      for (let y = 0; y < H; y++) {
        for (let x = 0; x < W; x++) {
          const src = (y * W + x) * 3;
          const dst = base + (y * width + n * (W + PANEL_GAP) + x) * 3;
          for (let c = 0; c < 3; c++) frames[dst + c] = Math.round(255 * Math.min(1, Math.max(0, panel[src + c]!)));
        }
      }
    });
  }
  return { frames, width, height: H, mse };
}

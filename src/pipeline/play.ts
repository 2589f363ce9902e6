/**
 * trajforge play: the environment in a web page. The page builds the same PhysicsEnv and renderer
 * from the config served here (Rapier's compat WASM runs in the browser), steps it at the control
 * rate under keyboard or gamepad control, and with --record posts each finished episode, which
 * the recorder re-simulates in Node and writes as a `teleop` dataset (see play-recorder.ts).
 */
import { loadEnv } from '../config/load.js';
import type { ResolvedEnv } from '../config/parse.js';
import { TrajforgeError } from '../core/errors.js';
import { json, startWebServer, type Route } from '../web/server.js';
import { checkInt, type NoticeCallback } from './progress.js';
import type { VideoCodec } from '../video/ffmpeg.js';
import { TeleopRecorder, type RecordedEpisode, type RecordingSummary } from './play-recorder.js';

export interface PlayOptions {
  /** An environment id or file. */
  env: string;
  /** `PATH=VALUE` overrides of the environment file (`--set`). */
  overrides?: readonly string[];
  /** A dataset folder to record finished episodes into. */
  record?: string;
  /** The recording's video codec (default h264). */
  codec?: VideoCodec;
  overwrite?: boolean;
  resume?: boolean;
  /** Loopback unless given. */
  host?: string;
  /** 0 or absent: a free port. */
  port?: number;
  /** The canvas width the page starts with (the camera's aspect ratio kept); default 256. */
  size?: number;
  /** The first episode's seed (episode k: seed + k); default 0. */
  seed?: number;
  cwd?: string;
  /** The output folder's notices (kind 'output'), and the server's warning when it listens beyond loopback (kind 'input'). */
  onNotice?: NoticeCallback;
  /** Each recorded episode, as it is committed. */
  onEpisode?: (ep: RecordedEpisode) => void;
}

/** What the page fetches from /api/play. */
export interface PlaySession {
  env: ResolvedEnv;
  size: number;
  /** The seed of the page's first episode (with --record: the recording's next one). */
  seed: number;
  recording: { dir: string; episodes: number } | null;
}

export interface PlaySummary {
  envId: string;
  /** The finished recording; null without --record. */
  recording: RecordingSummary | null;
}

export interface Playing {
  url: string;
  env: ResolvedEnv;
  /** Settles once the page asks to finish (its Finish button): the recording is then finalised. */
  finished: Promise<PlaySummary>;
  /** Stops serving and finalises the recording (idempotent). */
  close(): Promise<PlaySummary>;
}

export const MAX_SIZE = 1024;

export async function playEnvironment(opts: PlayOptions): Promise<Playing> {
  const size = checkInt(opts.size ?? 256, 'size', 16);
  if (size > MAX_SIZE) throw new TrajforgeError('E_USAGE', `--size must be at most ${MAX_SIZE} (the page renders on the CPU), got ${size}`);
  const seed = checkInt(opts.seed ?? 0, 'seed', 0);
  if (opts.port !== undefined && (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535)) throw new TrajforgeError('E_USAGE', `--port must be an integer 0..65535, got '${opts.port}'`);
  if (!opts.record && (opts.overwrite || opts.resume)) throw new TrajforgeError('E_USAGE', '--overwrite and --resume apply to --record DIR; give --record');
  const env = loadEnv(opts.env, { baseDir: opts.cwd ?? process.cwd(), overrides: opts.overrides ?? [] });
  const recorder = opts.record
    ? await TeleopRecorder.open({ env, dir: opts.record, seed, ...(opts.codec !== undefined ? { codec: opts.codec } : {}), overwrite: opts.overwrite === true, resume: opts.resume === true, cwd: opts.cwd, onNotice: opts.onNotice })
    : null;

  let finishing: Promise<PlaySummary> | null = null;
  let markFinished: (s: PlaySummary) => void = () => {};
  let failFinished: (e: unknown) => void = () => {};
  const finished = new Promise<PlaySummary>((resolve, reject) => {
    markFinished = resolve;
    failFinished = reject;
  });
  finished.catch(() => undefined);
  const finish = (): Promise<PlaySummary> => {
    finishing ??= (recorder ? recorder.close() : Promise.resolve(null)).then((recording) => ({ envId: env.config.id, recording }));
    finishing.then(markFinished, failFinished);
    return finishing;
  };

  const routes: Route[] = [
    {
      method: 'GET',
      pattern: '/api/play',
      handle: () => json({ env, size, seed: recorder ? recorder.nextSeed : seed, recording: recorder ? { dir: recorder.dir, episodes: recorder.episodes } : null } satisfies PlaySession),
    },
    {
      method: 'POST',
      pattern: '/api/episodes',
      handle: async (req) => {
        if (!recorder) throw new TrajforgeError('E_USAGE', 'this session does not record; start trajforge play with --record DIR to keep episodes');
        const recorded = await recorder.record(await req.json());
        opts.onEpisode?.(recorded);
        return json(recorded);
      },
    },
    {
      method: 'POST',
      pattern: '/api/finish',
      handle: async () => json(await finish()),
    },
  ];
  let server;
  try {
    // Only a recording accepts bodies, and none larger than its environment's longest episode.
    server = await startWebServer({ app: 'play', title: `trajforge play ${env.config.id}`, routes, maxBody: recorder ? recorder.maxPostBytes : 4096, ...(opts.host !== undefined ? { host: opts.host } : {}), ...(opts.port !== undefined ? { port: opts.port } : {}), onNotice: (m) => opts.onNotice?.(m, 'input') });
  } catch (e) {
    await recorder?.close().catch(() => undefined);
    throw e;
  }
  const web = server;
  let closing: Promise<PlaySummary> | null = null;
  return {
    url: web.url,
    env,
    finished,
    close: () => (closing ??= (async () => {
      await web.close();
      return finish();
    })()),
  };
}

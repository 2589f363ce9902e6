/**
 * The viewer page's calls to its server (src/pipeline/view.ts). Every failure becomes an ApiError
 * carrying the server's code and message, which the page shows in its error panel.
 */
import type { EpisodeSeries, ViewSummary } from '../../pipeline/view-data.js';

export type { EpisodeSeries, ViewSummary };

export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

async function failure(r: Response, what: string): Promise<ApiError> {
  try {
    const body = (await r.json()) as { error?: { code?: string; message?: string } };
    if (body.error?.message) return new ApiError(body.error.code ?? `HTTP ${r.status}`, body.error.message);
  } catch {
    // not JSON: the status line says what happened
  }
  return new ApiError(`HTTP ${r.status}`, `${what}: the server answered ${r.status} ${r.statusText}`);
}

async function call(path: string): Promise<Response> {
  let r: Response;
  try {
    r = await fetch(path);
  } catch (e) {
    throw new ApiError('E_NETWORK', `cannot reach the trajforge view server (${(e as Error).message}); is \`trajforge view\` still running?`);
  }
  if (!r.ok) throw await failure(r, path);
  return r;
}

export async function getJson<T>(path: string): Promise<T> {
  return (await (await call(path)).json()) as T;
}

/** A run of rgb24 frames as the server sends them. */
export interface Frames {
  width: number;
  height: number;
  from: number;
  count: number;
  /** Frames in the whole episode. */
  length: number;
  data: Uint8Array;
}

export async function getFrames(path: string): Promise<Frames & { headers: Headers }> {
  const r = await call(path);
  const h = (k: string) => Number(r.headers.get(k));
  return { width: h('x-width'), height: h('x-height'), from: h('x-from'), count: h('x-count'), length: h('x-length'), data: new Uint8Array(await r.arrayBuffer()), headers: r.headers };
}

export const api = {
  dataset: () => getJson<ViewSummary>('/api/dataset'),
  series: (episode: number) => getJson<EpisodeSeries>(`/api/episodes/${episode}`),
  frames: (episode: number, camera: string, from: number, count: number) => getFrames(`/api/episodes/${episode}/frames/${encodeURIComponent(camera)}?from=${from}&count=${count}`),
  overlay: (episode: number, camera: string, channel: string, from: number) => getFrames(`/api/episodes/${episode}/overlay/${encodeURIComponent(camera)}/${encodeURIComponent(channel)}?from=${from}`),
  predict: (episode: number, start: number, horizon: number) => getFrames(`/api/episodes/${episode}/predict?start=${start}&horizon=${horizon}`),
};

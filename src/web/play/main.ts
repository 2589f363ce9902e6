/**
 * The play page: the served environment config built into the same PhysicsEnv and renderer Node
 * uses (Rapier's compat WASM is inlined in the bundle), stepped at the control rate under the
 * person's keys or gamepad, drawn every animation frame into a canvas (poses interpolated between
 * the last two steps, so motion is smooth at the display rate while physics keeps its own rate).
 * With --record each finished episode is posted; the server re-simulates it before keeping it.
 */
import './play.css';
import type { RecordedEpisode } from '../../pipeline/play-recorder.js';
import type { PlaySession } from '../../pipeline/play.js';
import type { Action } from '../../core/spaces.js';
import type { Primitive, SceneSnapshot } from '../../core/scene.js';
import { CONTROL_KEYS, TeleopController, helpLines, keyMapFor } from '../../policy/teleop.js';
import { Renderer } from '../../render/renderer.js';
import { createEnv } from '../../sim/env.js';

/** What the page's test hook reports (window.trajforgePlay.state()). */
export interface PlayState {
  seed: number;
  step: number;
  obs: number[];
  action: number[];
  reward: number;
  return: number;
  success: boolean;
  done: boolean;
  paused: boolean;
  speed: number;
  episodesRecorded: number;
  lastSave: { ok: boolean; message: string } | null;
  /** Canvas frames drawn per second over the last second. */
  fps: number;
  /** Frames per second the renderer alone could draw (1000 / mean render ms). */
  renderFps: number;
  /** Environment steps per second over the last second. */
  stepsPerSecond: number;
  width: number;
  height: number;
  camera: string;
}

interface PlayHook {
  ready: Promise<void>;
  state(): PlayState;
  /** Holds a key (a KeyboardEvent.code) for `ms` milliseconds, as a person would. */
  press(key: string, ms: number): Promise<void>;
}

declare global {
  interface Window {
    trajforgePlay?: PlayHook;
  }
}

const SIZES = [128, 192, 256, 384, 512];
const SLOW = 0.25;
/** How long a finished episode stays on screen before the next starts. */
const END_PAUSE_MS = 600;

const app = document.getElementById('app')!;
let state: PlayState | null = null;
let pressKey: (key: string, ms: number) => Promise<void> = () => Promise.reject(new Error('the page is not ready'));
const ready = start().catch((e: unknown) => {
  if (!state) app.textContent = '';
  showError(e instanceof Error ? e.message : String(e));
  throw e;
});
// A failure after loading (in the animation loop, in a handler) stops the page visibly too.
window.addEventListener('error', (e) => showError(`the page stopped: ${e.message}`));
window.addEventListener('unhandledrejection', (e) => showError(`the page stopped: ${e.reason instanceof Error ? e.reason.message : String(e.reason)}`));
ready.catch(() => undefined);
window.trajforgePlay = {
  ready,
  state: () => {
    if (!state) throw new Error('the page is not ready');
    return { ...state, obs: [...state.obs], action: [...state.action] };
  },
  press: (key, ms) => pressKey(key, ms),
};

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, text = ''): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text) e.textContent = text;
  return e;
}

function showError(message: string): void {
  let panel = document.querySelector<HTMLElement>('[data-testid="error"]');
  if (!panel) {
    panel = el('div', { class: 'error', 'data-testid': 'error', role: 'alert' });
    app.prepend(panel);
  }
  panel.textContent = message;
  panel.hidden = false;
}

async function api<T>(path: string, body?: unknown): Promise<T> {
  const res = await fetch(path, body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`${path} answered ${res.status} with something that is not JSON: ${text.slice(0, 200)}`);
  }
  const err = (parsed as { error?: { code: string; message: string } }).error;
  if (!res.ok || err) throw new Error(err ? `${err.code}: ${err.message}` : `${path} answered ${res.status}`);
  return parsed as T;
}

async function start(): Promise<void> {
  app.textContent = 'loading the environment…';
  const session = await api<PlaySession>('/api/play');
  const env = await createEnv(session.env);
  const cfg = env.config;
  const controller = new TeleopController(keyMapFor(env.actionSpace, cfg.actions.discrete));
  const renderer = new Renderer();
  app.textContent = '';

  // ---- layout ------------------------------------------------------------------------------
  const header = el('header');
  header.append(el('h1', {}, `${cfg.id}`), el('p', { class: 'instruction' }, env.spec.instruction));
  const canvas = el('canvas', { 'data-testid': 'canvas', tabindex: '0' });
  const ctx = canvas.getContext('2d')!;
  const stage = el('div', { class: 'stage' });
  stage.append(canvas);

  const controls = el('div', { class: 'controls' });
  const sizeSelect = el('select', { 'data-testid': 'size', 'aria-label': 'canvas size' });
  for (const s of [...new Set([...SIZES, session.size])].sort((a, b) => a - b)) sizeSelect.append(el('option', { value: String(s) }, `${s} px`));
  sizeSelect.value = String(session.size);
  const cameraSelect = el('select', { 'data-testid': 'camera', 'aria-label': 'camera' });
  for (const c of cfg.cameras) cameraSelect.append(el('option', { value: c.name }, c.name));
  const resetButton = el('button', { 'data-testid': 'reset', type: 'button' }, 'Reset (R)');
  const pauseButton = el('button', { 'data-testid': 'pause', type: 'button' }, 'Pause (P)');
  const slowButton = el('button', { 'data-testid': 'slow', type: 'button' }, 'Slow motion (M)');
  const finishButton = el('button', { 'data-testid': 'finish', type: 'button' }, 'Finish recording');
  controls.append(el('label', {}, 'size '), sizeSelect, el('label', {}, ' camera '), cameraSelect, resetButton, pauseButton, slowButton);
  if (session.recording) controls.append(finishButton);

  const hud = el('dl', { class: 'hud' });
  const field = (label: string, id: string): HTMLElement => {
    const dd = el('dd', { 'data-testid': id });
    hud.append(el('dt', {}, label), dd);
    return dd;
  };
  const seedOut = field('seed', 'seed');
  const stepOut = field('step', 'step');
  const rewardOut = field('reward', 'reward');
  const returnOut = field('return', 'return');
  const successOut = field('success', 'success');
  const fpsOut = field('fps', 'fps');
  const renderFpsOut = field('render fps', 'render-fps');
  const recordOut = el('p', { class: 'record', 'data-testid': 'record-status' });
  const help = el('table', { class: 'help', 'data-testid': 'help' });
  help.append(el('caption', {}, 'Keys'));
  for (const line of helpLines(controller.map)) {
    const tr = el('tr');
    tr.append(el('td', { class: 'keys' }, line.keys), el('td', {}, line.what));
    help.append(tr);
  }
  const side = el('div', { class: 'side' });
  side.append(hud, recordOut, help);
  const main = el('main');
  main.append(stage, side);
  app.append(header, controls, main);

  // ---- episode state -----------------------------------------------------------------------
  let seed = session.seed;
  let recorded = session.recording?.episodes ?? 0;
  let lastSave: PlayState['lastSave'] = null;
  let obs: Float32Array = new Float32Array(0);
  let lastAction: Action = 0;
  const ep = { obs: [] as number[], actions: [] as number[], rewards: [] as number[] };
  let reward = 0;
  let ret = 0;
  let success = false;
  let done = false;
  let paused = false;
  let speed = 1;
  let waiting = false;
  let prevScene: SceneSnapshot;
  let scene: SceneSnapshot;
  let acc = 0;
  let width = session.size;
  let height = session.size;
  let cameraName = cfg.cameras[0]?.name ?? '';

  const stepMs = 1000 / env.spec.fps;

  function reset(newSeed: number): void {
    seed = newSeed;
    obs = env.reset({ seed }).obs;
    controller.reset();
    ep.obs = Array.from(obs);
    ep.actions = [];
    ep.rewards = [];
    reward = 0;
    ret = 0;
    success = false;
    done = false;
    acc = 0;
    scene = env.snapshot();
    prevScene = scene;
    seedOut.textContent = String(seed);
  }

  function step(): void {
    const a = controller.action();
    lastAction = a;
    const r = env.step(a);
    if (typeof a === 'number') ep.actions.push(a);
    else for (const v of a) ep.actions.push(v);
    ep.rewards.push(r.reward);
    for (const v of r.obs) ep.obs.push(v);
    obs = r.obs;
    reward = r.reward;
    ret += r.reward;
    success = r.info.success;
    prevScene = scene;
    scene = env.snapshot();
    stepsThisSecond++;
    if (r.terminated || r.truncated) {
      done = true;
      void episodeOver();
    }
  }

  async function episodeOver(): Promise<void> {
    waiting = true;
    let next = seed + 1;
    if (session.recording) {
      recordOut.textContent = `saving episode (seed ${seed})…`;
      try {
        const saved = await api<RecordedEpisode>('/api/episodes', { seed, actions: ep.actions, obs: ep.obs, rewards: ep.rewards, success });
        recorded = saved.episodes;
        next = saved.nextSeed;
        lastSave = { ok: true, message: `saved episode ${saved.index} (seed ${saved.seed}, ${saved.length} steps, ${saved.success ? 'success' : 'no success'})` };
      } catch (e) {
        lastSave = { ok: false, message: `not saved: ${e instanceof Error ? e.message : String(e)}` };
        // The next episode takes the seed the recording expects (another tab may have recorded meanwhile).
        next = await api<PlaySession>('/api/play').then((s) => s.seed, () => seed);
      }
      showRecording();
    }
    await new Promise((r) => setTimeout(r, END_PAUSE_MS));
    reset(next);
    waiting = false;
  }

  function showRecording(): void {
    if (!session.recording) {
      recordOut.textContent = 'not recording (start with --record DIR to keep episodes)';
      return;
    }
    recordOut.textContent = `recording into ${session.recording.dir}: ${recorded} episode(s)${lastSave ? ` · ${lastSave.message}` : ''}`;
    recordOut.className = `record ${lastSave && !lastSave.ok ? 'failed' : ''}`;
    recordOut.setAttribute('data-episodes', String(recorded));
  }

  // ---- drawing -----------------------------------------------------------------------------
  let image: ImageData | null = null;
  function resize(): void {
    const cam = cfg.cameras.find((c) => c.name === cameraName) ?? cfg.cameras[0];
    const size = Number(sizeSelect.value);
    width = size;
    height = cam ? Math.max(1, Math.round((size * cam.resolution[1]) / cam.resolution[0])) : size;
    canvas.width = width;
    canvas.height = height;
    image = ctx.createImageData(width, height);
    image.data.fill(255);
  }

  let renderMs = 0;
  let renders = 0;
  function draw(alpha: number): void {
    const shown = interpolate(prevScene, scene, alpha);
    const cam = shown.cameras.find((c) => c.name === cameraName);
    if (!cam || !image) return;
    const t0 = performance.now();
    const f = renderer.render(shown, { ...cam, width, height }, ['rgb']);
    renderMs += performance.now() - t0;
    renders++;
    const rgb = f.rgb!;
    const px = image.data;
    for (let i = 0, j = 0; i < rgb.length; i += 3, j += 4) {
      px[j] = rgb[i]!;
      px[j + 1] = rgb[i + 1]!;
      px[j + 2] = rgb[i + 2]!;
    }
    ctx.putImageData(image, 0, 0);
  }

  // ---- input -------------------------------------------------------------------------------
  const togglePause = () => {
    paused = !paused;
    pauseButton.textContent = paused ? 'Resume (P)' : 'Pause (P)';
  };
  const toggleSlow = () => {
    speed = speed === 1 ? SLOW : 1;
    slowButton.textContent = speed === 1 ? 'Slow motion (M)' : `Normal speed (M) · now ${SLOW}x`;
  };
  const doReset = () => {
    if (!waiting) reset(session.recording ? seed : seed + 1);
  };
  function keyDown(code: string): boolean {
    if (code === CONTROL_KEYS.reset) doReset();
    else if ((CONTROL_KEYS.pause as readonly string[]).includes(code)) togglePause();
    else if (code === CONTROL_KEYS.slow) toggleSlow();
    else if (code === CONTROL_KEYS.help) help.hidden = !help.hidden;
    else return controller.keyDown(code);
    return true;
  }
  window.addEventListener('keydown', (e) => {
    if (e.target instanceof HTMLSelectElement || e.metaKey || e.ctrlKey || e.altKey) return;
    if (e.repeat) {
      if (controller.map.kind === 'box' || !CONTROL_KEYS.pause.includes(e.code as 'KeyP')) e.preventDefault();
      return;
    }
    if (keyDown(e.code)) e.preventDefault();
  });
  window.addEventListener('keyup', (e) => controller.keyUp(e.code));
  window.addEventListener('blur', () => controller.releaseAll());
  resetButton.addEventListener('click', doReset);
  pauseButton.addEventListener('click', togglePause);
  slowButton.addEventListener('click', toggleSlow);
  sizeSelect.addEventListener('change', resize);
  cameraSelect.addEventListener('change', () => {
    cameraName = cameraSelect.value;
    resize();
  });
  finishButton.addEventListener('click', () => {
    finishButton.disabled = true;
    api<{ recording: { episodes: number; dir: string } | null }>('/api/finish', {})
      .then((s) => {
        lastSave = { ok: true, message: `recording finished: ${s.recording?.episodes ?? 0} episode(s) in ${s.recording?.dir ?? '(nothing written)'}` };
        session.recording = null;
        recordOut.textContent = lastSave.message;
      })
      .catch((e: unknown) => showError(e instanceof Error ? e.message : String(e)));
  });
  pressKey = (key, ms) => {
    keyDown(key);
    return new Promise((resolve) =>
      setTimeout(() => {
        controller.keyUp(key);
        resolve();
      }, ms),
    );
  };

  // ---- loop --------------------------------------------------------------------------------
  let last = performance.now();
  let frames = 0;
  let stepsThisSecond = 0;
  let secondStart = last;
  let fps = 0;
  let stepsPerSecond = 0;
  function frame(now: number): void {
    const dt = Math.min(now - last, 250);
    last = now;
    const pad = navigator.getGamepads?.().find((g) => g !== null);
    if (pad) controller.gamepad(pad.axes, pad.buttons.map((b) => b.pressed));
    if (!paused && !waiting && !done) {
      acc += dt * speed;
      // At most a few steps per frame: a slow frame must not snowball into a burst of steps.
      for (let n = 0; acc >= stepMs && n < 4 && !done; n++) {
        acc -= stepMs;
        step();
      }
      if (acc > stepMs) acc = stepMs;
    }
    draw(done || waiting ? 1 : Math.min(1, acc / stepMs));
    frames++;
    if (now - secondStart >= 1000) {
      fps = (frames * 1000) / (now - secondStart);
      stepsPerSecond = (stepsThisSecond * 1000) / (now - secondStart);
      frames = 0;
      stepsThisSecond = 0;
      secondStart = now;
    }
    stepOut.textContent = String(ep.rewards.length);
    rewardOut.textContent = reward.toFixed(3);
    returnOut.textContent = ret.toFixed(3);
    successOut.textContent = success ? 'yes' : 'no';
    successOut.className = success ? 'yes' : '';
    fpsOut.textContent = fps ? fps.toFixed(1) : '–';
    renderFpsOut.textContent = renders ? (1000 / (renderMs / renders)).toFixed(0) : '–';
    state = {
      seed,
      step: ep.rewards.length,
      obs: Array.from(obs),
      action: typeof lastAction === 'number' ? [lastAction] : Array.from(lastAction),
      reward,
      return: ret,
      success,
      done,
      paused,
      speed,
      episodesRecorded: recorded,
      lastSave,
      fps,
      renderFps: renders ? 1000 / (renderMs / renders) : 0,
      stepsPerSecond,
      width,
      height,
      camera: cameraName,
    };
    requestAnimationFrame(frame);
  }

  reset(seed);
  resize();
  showRecording();
  canvas.focus();
  requestAnimationFrame(frame);
  // Resolved once the first frame is drawn, so a test's first state() has everything.
  await new Promise<void>((resolve) => requestAnimationFrame(() => resolve()));
  await new Promise<void>((resolve) => requestAnimationFrame(() => resolve()));
  app.setAttribute('data-ready', 'true');
}

/** The scene between two steps: positions lerped, orientations nlerped (the renderer reads snapshots only). */
function interpolate(a: SceneSnapshot, b: SceneSnapshot, t: number): SceneSnapshot {
  if (t >= 1 || a === b) return b;
  const byId = new Map(a.primitives.map((p) => [p.id, p]));
  const primitives = b.primitives.map((p): Primitive => {
    const q = byId.get(p.id);
    if (!q) return p;
    const lerp = (x: readonly number[], y: readonly number[]) => x.map((v, i) => v + (y[i]! - v) * t);
    // The shorter way round: q and -q are the same rotation.
    const dot = q.quaternion.reduce((s, v, i) => s + v * p.quaternion[i]!, 0);
    const target = dot < 0 ? p.quaternion.map((v) => -v) : p.quaternion;
    const quat = lerp(q.quaternion, target);
    const n = Math.hypot(...quat) || 1;
    return { ...p, position: lerp(q.position, p.position) as Primitive['position'], quaternion: quat.map((v) => v / n) as Primitive['quaternion'] };
  });
  return { ...b, primitives };
}

/**
 * The `trajforge view` page: episode table, a canvas player per camera (frames decoded by the
 * server's ffmpeg, so frame k on screen is the dataset's frame k bit for bit; Chromium cannot
 * decode every codec datasets use, lossless H.264 4:4:4 included), stored aux channels as
 * false-colour overlays, uPlot series with a cursor synced both ways, stats, sizes and, with a
 * world model, its open-loop predictions. Every failure shows in the error panel.
 */
import './style.css';
import { api, ApiError, type EpisodeSeries, type Frames, type ViewSummary } from './api.js';
import { Plots } from './plots.js';

type EpisodeRow = ViewSummary['episodes'][number];
type Camera = ViewSummary['cameras'][number];

/** Largest request for frames, in bytes: a long high-resolution episode arrives in several parts. */
const CHUNK_BYTES = 16 * 2 ** 20;
const SPEEDS = [0.25, 0.5, 1, 2, 4];

interface CameraView {
  camera: Camera;
  /** The episode's rgb frames as they arrive (null: not loaded yet). */
  frames: (Uint8Array | null)[];
  canvas: HTMLCanvasElement;
  image: ImageData;
  overlays: Map<string, { enabled: boolean; frames: Frames | null; canvas: HTMLCanvasElement | null }>;
  loaded: Promise<void>;
}

const h = <K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<HTMLElementTagNameMap[K]> & { testid?: string } = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] => {
  const el = document.createElement(tag);
  const { testid, ...rest } = props;
  Object.assign(el, rest);
  if (testid) el.dataset.testid = testid;
  el.append(...children);
  return el;
};

function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let u = 0;
  while (n >= 1024 && u < units.length - 1) {
    n /= 1024;
    u++;
  }
  return `${u === 0 ? n : n.toFixed(1)} ${units[u]}`;
}

const fmt = (v: number | null | undefined) => (v === null || v === undefined || !Number.isFinite(v) ? '–' : Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(2) : String(Number(v.toFixed(4))));

/** Rows the episode table shows at once. */
const TABLE_PAGE = 500;

class Viewer {
  private summary!: ViewSummary;
  private episode = -1;
  /**
   * Bumped on every episode selection: a response is used only while the selection that asked for
   * it is current, so switching quickly (A, B, back to A) never draws an older request's answer.
   */
  private generation = 0;
  private length = 0;
  private frame = 0;
  private playing = false;
  private speed = 1;
  private timer: number | null = null;
  private cameras: CameraView[] = [];
  private series: EpisodeSeries | null = null;
  private sortKey: keyof EpisodeRow = 'index';
  private sortAsc = true;
  private plots!: Plots;
  private opacity = 0.6;
  private sideBySide = false;
  private prediction: { start: number; frames: Frames; mse: number[]; panelWidth: number } | null = null;
  /** The first row of the filtered, sorted episodes the table shows. */
  private tableOffset = 0;
  private readonly el = {
    error: h('div', { className: 'error', hidden: true, role: 'alert', testid: 'error' }),
    header: h('header'),
    table: h('tbody'),
    filter: h('input', { type: 'search', placeholder: 'filter: task, index, seed…', testid: 'filter' }),
    success: h('select', { testid: 'filter-success' }, h('option', { value: 'all', textContent: 'all outcomes' }), h('option', { value: 'yes', textContent: 'successes' }), h('option', { value: 'no', textContent: 'failures' })),
    count: h('span', { className: 'muted', testid: 'episode-count' }),
    pageBack: h('button', { textContent: '‹ rows', title: `the previous ${TABLE_PAGE} rows`, testid: 'rows-back', hidden: true }),
    pageFwd: h('button', { textContent: 'rows ›', title: `the next ${TABLE_PAGE} rows`, testid: 'rows-forward', hidden: true }),
    title: h('h2', { testid: 'episode-title' }),
    play: h('button', { textContent: '▶', title: 'play / pause (space)', testid: 'play' }),
    slider: h('input', { type: 'range', min: '0', max: '0', value: '0', testid: 'slider' }),
    counter: h('span', { className: 'counter', testid: 'frame-counter' }),
    speed: h('select', { title: 'playback speed', testid: 'speed' }),
    players: h('div', { className: 'players' }),
    plots: h('div', { className: 'plots' }),
    stats: h('div', { className: 'stats', testid: 'stats' }),
    model: h('div', { className: 'model', testid: 'model', hidden: true }),
  };
  private readyResolve!: () => void;
  private readyReject!: (e: unknown) => void;
  readonly ready = new Promise<void>((resolve, reject) => {
    this.readyResolve = resolve;
    this.readyReject = reject;
  });

  constructor(private readonly root: HTMLElement) {}

  async start(): Promise<void> {
    this.layout();
    try {
      this.summary = await api.dataset();
      this.renderHeader();
      this.renderTable();
      this.renderStats();
      if (this.summary.episodes.length === 0) throw new ApiError('E_DATASET_INVALID', `${this.summary.dir} holds no episodes`);
      await this.select(this.visibleRows()[0]?.index ?? 0);
      this.readyResolve();
    } catch (e) {
      this.fail(e);
      this.readyReject(e);
    }
  }

  fail(e: unknown): void {
    const code = e instanceof ApiError ? e.code : 'E_PAGE';
    const message = e instanceof Error ? e.message : String(e);
    this.el.error.replaceChildren(h('strong', { textContent: `error[${code}]` }), ' ', h('span', { textContent: message, testid: 'error-message' }));
    this.el.error.hidden = false;
  }

  private layout(): void {
    for (const s of SPEEDS) this.el.speed.append(h('option', { value: String(s), textContent: `${s}×`, selected: s === 1 }));
    const sortHead = (key: keyof EpisodeRow, label: string) => {
      const th = h('th', { textContent: label, tabIndex: 0, title: `sort by ${label}`, testid: `sort-${key}` });
      const sort = () => {
        this.sortAsc = this.sortKey === key ? !this.sortAsc : true;
        this.sortKey = key;
        this.renderTable();
      };
      th.addEventListener('click', sort);
      th.addEventListener('keydown', (e) => {
        if (e.key === 'Enter') sort();
      });
      return th;
    };
    const table = h('table', { className: 'episodes', testid: 'episodes' }, h('thead', {}, h('tr', {}, sortHead('index', '#'), sortHead('length', 'length'), sortHead('seed', 'seed'), sortHead('success', 'success'), sortHead('return', 'return'), sortHead('task', 'task'))), this.el.table);
    const refilter = () => {
      this.tableOffset = 0;
      this.renderTable();
    };
    this.el.filter.addEventListener('input', refilter);
    this.el.success.addEventListener('change', refilter);
    this.el.pageBack.addEventListener('click', () => this.pageTable(-1));
    this.el.pageFwd.addEventListener('click', () => this.pageTable(1));
    const back = h('button', { textContent: '‹', title: 'previous frame (←; shift: 10)', testid: 'step-back' });
    const fwd = h('button', { textContent: '›', title: 'next frame (→; shift: 10)', testid: 'step-forward' });
    back.addEventListener('click', () => this.seek(this.frame - 1));
    fwd.addEventListener('click', () => this.seek(this.frame + 1));
    this.el.play.addEventListener('click', () => this.toggle());
    this.el.slider.addEventListener('input', () => this.seek(Number(this.el.slider.value)));
    this.el.speed.addEventListener('change', () => {
      this.speed = Number(this.el.speed.value);
      if (this.playing) this.schedule();
    });
    const opacity = h('input', { type: 'range', min: '0', max: '1', step: '0.05', value: String(this.opacity), title: 'overlay opacity', testid: 'overlay-opacity' });
    opacity.addEventListener('input', () => {
      this.opacity = Number(opacity.value);
      this.draw();
    });
    const side = h('input', { type: 'checkbox', testid: 'overlay-side' });
    side.addEventListener('change', () => {
      this.sideBySide = side.checked;
      for (const c of this.cameras) this.layoutOverlays(c);
      this.draw();
    });
    this.plots = new Plots(this.el.plots, (f) => this.seek(f));
    this.root.replaceChildren(
      this.el.header,
      this.el.error,
      h(
        'main',
        {},
        h('aside', {}, h('div', { className: 'filters' }, this.el.filter, this.el.success, this.el.count, this.el.pageBack, this.el.pageFwd), h('div', { className: 'table-wrap' }, table)),
        h(
          'section',
          { className: 'episode' },
          this.el.title,
          h('div', { className: 'controls' }, back, this.el.play, fwd, this.el.slider, this.el.counter, this.el.speed, h('label', { className: 'muted' }, 'overlay opacity ', opacity), h('label', { className: 'muted' }, side, ' side by side')),
          this.el.players,
          this.el.model,
          this.el.plots,
          h('details', { open: false }, h('summary', { textContent: 'Dataset stats and sizes' }), this.el.stats),
        ),
      ),
    );
    document.addEventListener('keydown', (e) => {
      const t = e.target as HTMLElement | null;
      if (t && (t.tagName === 'INPUT' || t.tagName === 'SELECT' || t.tagName === 'TEXTAREA') && (t as HTMLInputElement).type !== 'range') return;
      if (e.key === ' ') {
        e.preventDefault();
        this.toggle();
      } else if (e.key === 'ArrowRight') {
        e.preventDefault();
        void this.seek(this.frame + (e.shiftKey ? 10 : 1));
      } else if (e.key === 'ArrowLeft') {
        e.preventDefault();
        void this.seek(this.frame - (e.shiftKey ? 10 : 1));
      } else if (e.key === 'Home') void this.seek(0);
      else if (e.key === 'End') void this.seek(this.length - 1);
    });
  }

  private renderHeader(): void {
    const s = this.summary;
    const successes = s.episodes.filter((e) => e.success).length;
    const known = s.episodes.some((e) => e.success !== null);
    this.el.header.replaceChildren(
      h('h1', { textContent: s.envId, testid: 'env-id' }),
      h(
        'p',
        { className: 'muted' },
        `${s.episodes.length} episodes · ${s.frames} frames · ${s.fps} fps · ${s.cameras.map((c) => `${c.name} ${c.width}×${c.height}`).join(', ') || 'no cameras'}${known ? ` · ${successes} successes` : ''} · ${s.writtenBy === 'trajforge' ? 'trajforge' : 'another tool'} (LeRobot ${s.codebaseVersion})${s.source ? ` · source: ${s.source}` : ''} · ${bytes(s.sizes.total)}`,
      ),
      h('p', { className: 'instruction', textContent: s.instruction }),
    );
  }

  private visibleRows(): EpisodeRow[] {
    const text = this.el.filter.value.trim().toLowerCase();
    const want = this.el.success.value;
    const rows = this.summary.episodes.filter((r) => {
      if (want === 'yes' && r.success !== true) return false;
      if (want === 'no' && r.success !== false) return false;
      if (!text) return true;
      return [String(r.index), String(r.seed ?? ''), r.task.toLowerCase(), String(r.length)].some((v) => v.includes(text));
    });
    const k = this.sortKey;
    const dir = this.sortAsc ? 1 : -1;
    return rows.sort((a, b) => {
      const x = a[k];
      const y = b[k];
      if (x === y) return a.index - b.index;
      if (x === null) return 1;
      if (y === null) return -1;
      return (typeof x === 'string' ? x.localeCompare(String(y)) : Number(x) - Number(y)) * dir;
    });
  }

  /** Moves the table by a page of rows (the page is kept when the selection moves elsewhere by paging). */
  private pageTable(direction: number): void {
    this.tableOffset = Math.max(0, this.tableOffset + direction * TABLE_PAGE);
    this.renderTable(false);
  }

  /**
   * The table shows at most TABLE_PAGE rows of the filtered, sorted episodes (a dataset of tens of
   * thousands stays quick to open, sort and filter): the page holding the selected episode unless
   * the person pages away.
   */
  private renderTable(followSelection = true): void {
    const all = this.visibleRows();
    const at = all.findIndex((r) => r.index === this.episode);
    if (followSelection && at >= 0 && (at < this.tableOffset || at >= this.tableOffset + TABLE_PAGE)) this.tableOffset = Math.floor(at / TABLE_PAGE) * TABLE_PAGE;
    this.tableOffset = Math.min(this.tableOffset, Math.max(0, Math.floor((all.length - 1) / TABLE_PAGE) * TABLE_PAGE));
    const rows = all.slice(this.tableOffset, this.tableOffset + TABLE_PAGE);
    this.el.table.replaceChildren(
      ...rows.map((r) => {
        const tr = h(
          'tr',
          { tabIndex: 0, className: r.index === this.episode ? 'selected' : '', testid: `episode-row-${r.index}` },
          h('td', { textContent: String(r.index) }),
          h('td', { textContent: String(r.length) }),
          h('td', { textContent: r.seed === null ? '–' : String(r.seed) }),
          h('td', { textContent: r.success === null ? '–' : r.success ? '✔' : '✘', className: r.success ? 'ok' : r.success === false ? 'bad' : '' }),
          h('td', { textContent: fmt(r.return) }),
          h('td', { textContent: r.task, className: 'task' }),
        );
        tr.dataset.index = String(r.index);
        tr.addEventListener('click', () => void this.select(r.index).catch((e: unknown) => this.fail(e)));
        tr.addEventListener('keydown', (e) => {
          if (e.key === 'Enter') void this.select(r.index).catch((err: unknown) => this.fail(err));
        });
        return tr;
      }),
    );
    for (const th of this.root.querySelectorAll('thead th')) th.classList.toggle('sorted', (th as HTMLElement).dataset.testid === `sort-${this.sortKey}`);
    const total = this.summary.episodes.length;
    const paged = all.length > TABLE_PAGE;
    this.el.count.textContent = paged ? `${this.tableOffset + 1}–${this.tableOffset + rows.length} of ${all.length}${all.length < total ? ` (of ${total})` : ''}` : `${all.length} of ${total}`;
    this.el.pageBack.hidden = !paged;
    this.el.pageFwd.hidden = !paged;
    this.el.pageBack.disabled = this.tableOffset === 0;
    this.el.pageFwd.disabled = this.tableOffset + TABLE_PAGE >= all.length;
  }

  private renderStats(): void {
    const s = this.summary;
    const sizes = h(
      'table',
      { className: 'sizes', testid: 'sizes' },
      h('tbody', {}, ...[['total', s.sizes.total], ['data (parquet)', s.sizes.data], ['videos', s.sizes.videos], ...Object.entries(s.sizes.perCamera).map(([c, b]) => [`  camera ${c}`, b] as [string, number]), ['meta', s.sizes.meta], ['other', s.sizes.other]].map(([k, v]) => h('tr', {}, h('th', { textContent: String(k) }), h('td', { textContent: bytes(Number(v)) })))),
    );
    const statNames = ['min', 'max', 'mean', 'std', 'q01', 'q10', 'q50', 'q90', 'q99'];
    const rows = s.stats.flatMap((f) =>
      f.names.map((name, j) =>
        h(
          'tr',
          {},
          h('td', { textContent: j === 0 ? f.feature : '' }),
          h('td', { textContent: name }),
          ...statNames.map((k) => h('td', { textContent: fmt(f.stats[k]?.[j]) })),
          h('td', { textContent: j === 0 ? `${f.origin}${f.truncated ? ' (first values)' : ''}` : '', className: 'muted' }),
        ),
      ),
    );
    const stats = h('table', { className: 'feature-stats' }, h('thead', {}, h('tr', {}, ...['feature', 'dim', ...statNames, 'from'].map((k) => h('th', { textContent: k })))), h('tbody', {}, ...rows));
    this.el.stats.replaceChildren(h('h3', { textContent: `${s.sizes.files} files, ${bytes(s.sizes.total)}` }), sizes, h('h3', { textContent: 'Per-feature stats' }), stats);
  }

  async select(index: number): Promise<void> {
    this.pause();
    const row = this.summary.episodes[index];
    if (!row) throw new ApiError('E_USAGE', `no episode ${index}`);
    const gen = ++this.generation;
    const current = () => this.generation === gen;
    this.episode = index;
    this.series = null;
    this.length = row.length;
    this.frame = 0;
    this.prediction = null;
    this.renderTable();
    this.el.title.textContent = `Episode ${index} · ${row.length} frames${row.seed !== null ? ` · seed ${row.seed}` : ''}${row.success === null ? '' : row.success ? ' · success' : ' · no success'}${row.return === null ? '' : ` · return ${fmt(row.return)}`}`;
    this.el.slider.max = String(Math.max(0, row.length - 1));
    this.cameras = this.summary.cameras.map((c) => this.cameraView(c, index, current));
    this.el.players.replaceChildren(...this.cameras.map((c) => c.canvas.closest('figure')!));
    this.plots.clear();
    this.draw();
    this.renderModelPanel(current);
    const series = await api.series(index);
    if (!current()) return;
    this.series = series;
    this.plots.show(series);
    this.draw();
    await Promise.all(this.cameras.map((c) => c.loaded));
    if (!current()) return;
    this.draw();
  }

  private cameraView(camera: Camera, episode: number, current: () => boolean): CameraView {
    const canvas = h('canvas', { width: camera.width, height: camera.height, testid: `canvas-${camera.name}` });
    const scale = Math.max(1, Math.floor(320 / Math.max(camera.width, camera.height)));
    canvas.style.width = `${camera.width * scale}px`;
    canvas.style.height = `${camera.height * scale}px`;
    const toggles = h('div', { className: 'overlay-toggles' });
    const view: CameraView = { camera, frames: [], canvas, image: new ImageData(camera.width, camera.height), overlays: new Map(), loaded: Promise.resolve() };
    for (const ch of camera.overlays) {
      const box = h('input', { type: 'checkbox', testid: `overlay-${camera.name}-${ch}` });
      view.overlays.set(ch, { enabled: false, frames: null, canvas: null });
      box.addEventListener('change', () =>
        void this.toggleOverlay(view, episode, ch, box.checked, current).catch((e: unknown) => {
          if (current()) this.fail(e);
        }),
      );
      toggles.append(h('label', {}, box, ` ${ch}`));
    }
    const side = h('div', { className: 'side' });
    const figure = h('figure', { className: 'player', testid: `player-${camera.name}` }, h('div', { className: 'canvases' }, canvas, side), h('figcaption', {}, h('strong', { textContent: camera.name }), ` ${camera.width}×${camera.height}`, toggles));
    void figure;
    if (camera.videoKey) {
      view.frames = new Array<Uint8Array | null>(this.length).fill(null);
      // A failure of a selection no longer current is nobody's concern (the page shows another episode).
      view.loaded = this.loadFrames(view, episode, current).catch((e: unknown) => {
        if (current()) throw e;
      });
    }
    return view;
  }

  /**
   * Fetches the episode's frames in parts of at most CHUNK_BYTES, drawing as soon as the current
   * frame is in. The server may send fewer frames than asked (its window): the next part starts
   * where this one ended.
   */
  private async loadFrames(view: CameraView, episode: number, current: () => boolean): Promise<void> {
    const { width, height, name } = view.camera;
    const frameBytes = width * height * 3;
    const length = view.frames.length;
    const per = Math.max(1, Math.floor(CHUNK_BYTES / frameBytes));
    for (let from = 0; from < length; ) {
      const part = await api.frames(episode, name, from, Math.min(per, length - from));
      if (!current()) return;
      checkPart(part, view.camera, from, `episode ${episode} camera ${name}`);
      for (let i = 0; i < part.count; i++) view.frames[part.from + i] = part.data.subarray(i * frameBytes, (i + 1) * frameBytes);
      if (this.frame >= part.from && this.frame < part.from + part.count) this.draw();
      from += part.count;
    }
  }

  /** Every frame of an overlay, part by part as the server sends them. */
  private async loadOverlay(view: CameraView, episode: number, channel: string, current: () => boolean): Promise<Frames | null> {
    const { width, height, name } = view.camera;
    const frameBytes = width * height * 3;
    const length = view.frames.length || (this.summary.episodes[episode]?.length ?? 0);
    const data = new Uint8Array(length * frameBytes);
    for (let from = 0; from < length; ) {
      const part = await api.overlay(episode, name, channel, from);
      if (!current()) return null;
      checkPart(part, view.camera, from, `episode ${episode} camera ${name} ${channel}`);
      data.set(part.data, from * frameBytes);
      from += part.count;
    }
    return { width, height, from: 0, count: length, length, data };
  }

  private async toggleOverlay(view: CameraView, episode: number, channel: string, on: boolean, current: () => boolean): Promise<void> {
    const o = view.overlays.get(channel)!;
    o.enabled = on;
    if (on && !o.frames) {
      const frames = await this.loadOverlay(view, episode, channel, current);
      if (!frames || !current()) return;
      o.frames = frames;
    }
    this.layoutOverlays(view);
    this.draw();
  }

  private layoutOverlays(view: CameraView): void {
    const side = view.canvas.parentElement!.querySelector('.side')!;
    const wanted = this.sideBySide ? [...view.overlays.entries()].filter(([, o]) => o.enabled && o.frames) : [];
    for (const [, o] of view.overlays) o.canvas = null;
    side.replaceChildren(
      ...wanted.map(([ch, o]) => {
        const c = h('canvas', { width: view.camera.width, height: view.camera.height, testid: `overlay-canvas-${view.camera.name}-${ch}` });
        c.style.width = view.canvas.style.width;
        c.style.height = view.canvas.style.height;
        c.title = ch;
        o.canvas = c;
        return c;
      }),
    );
  }

  /** Draws the current frame on every camera (rgb, then the enabled overlays blended or beside it) and moves the plot cursor. */
  private draw(): void {
    for (const v of this.cameras) {
      const px = v.camera.width * v.camera.height;
      const out = v.image.data;
      const rgb = v.frames[this.frame] ?? null;
      const blend = this.sideBySide ? [] : [...v.overlays.values()].filter((o) => o.enabled && o.frames);
      for (let i = 0; i < px; i++) {
        for (let c = 0; c < 3; c++) {
          let value = rgb ? rgb[i * 3 + c]! : 0;
          for (const o of blend) value = value * (1 - this.opacity) + o.frames!.data[(this.frame * px + i) * 3 + c]! * this.opacity;
          out[i * 4 + c] = value;
        }
        out[i * 4 + 3] = 255;
      }
      v.canvas.getContext('2d')!.putImageData(v.image, 0, 0);
      v.canvas.dataset.frame = rgb ? String(this.frame) : '';
      for (const o of v.overlays.values()) {
        if (!o.canvas || !o.frames) continue;
        const img = new ImageData(v.camera.width, v.camera.height);
        for (let i = 0; i < px; i++) {
          for (let c = 0; c < 3; c++) img.data[i * 4 + c] = o.frames.data[(this.frame * px + i) * 3 + c]!;
          img.data[i * 4 + 3] = 255;
        }
        o.canvas.getContext('2d')!.putImageData(img, 0, 0);
      }
    }
    this.drawPrediction();
    this.el.slider.value = String(this.frame);
    this.el.counter.textContent = `${this.frame} / ${Math.max(0, this.length - 1)}  ·  ${(this.frame / this.summary.fps).toFixed(2)} s`;
    this.plots.setFrame(this.frame);
  }

  seek(frame: number): void {
    if (this.length === 0) return;
    this.frame = Math.max(0, Math.min(this.length - 1, Math.round(frame)));
    this.draw();
  }

  private toggle(): void {
    if (this.playing) this.pause();
    else {
      // Play at the last frame starts over, shown at once rather than a tick later.
      if (this.frame >= this.length - 1) this.seek(0);
      this.playing = true;
      this.el.play.textContent = '⏸';
      this.schedule();
    }
  }

  private pause(): void {
    this.playing = false;
    this.el.play.textContent = '▶';
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  private schedule(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = window.setInterval(() => {
      if (this.frame >= this.length - 1) {
        this.pause();
        return;
      }
      this.seek(this.frame + 1);
    }, 1000 / (this.summary.fps * this.speed));
  }

  private renderModelPanel(current: () => boolean): void {
    const m = this.summary.model;
    if (!m) {
      this.el.model.hidden = true;
      return;
    }
    this.el.model.hidden = false;
    const start = h('input', { type: 'number', min: '0', value: '0', testid: 'predict-start' });
    const horizon = h('input', { type: 'number', min: '1', value: String(Math.min(30, Math.max(1, this.length - 1))), testid: 'predict-horizon' });
    const go = h('button', { textContent: 'predict', testid: 'predict' });
    const here = h('button', { textContent: 'from current frame' });
    here.addEventListener('click', () => (start.value = String(Math.min(this.frame, this.length - 2))));
    const canvas = h('canvas', { testid: 'predict-canvas' });
    canvas.hidden = true; // until the first prediction arrives: an empty canvas reads as a black frame
    const mse = h('div', { className: 'muted', testid: 'predict-mse' });
    const run = (seekToStart: boolean) => {
      const episode = this.episode;
      const length = this.length;
      go.disabled = true;
      api
        // A horizon past the episode's end is cut to it rather than refused.
        .predict(episode, Number(start.value), Math.max(1, Math.min(Number(horizon.value), length - 1 - Number(start.value))))
        .then((f) => {
          if (!current()) return;
          const values = (f.headers.get('x-mse') ?? '').split(',').filter(Boolean).map(Number);
          this.prediction = { start: f.from, frames: f, mse: values, panelWidth: Number(f.headers.get('x-panel-width')) };
          canvas.width = f.width;
          canvas.height = f.height;
          canvas.hidden = false;
          const scale = Math.max(1, Math.floor(480 / f.width));
          canvas.style.width = `${f.width * scale}px`;
          canvas.style.height = `${f.height * scale}px`;
          mse.textContent = `per-step MSE (truth vs open-loop prediction): mean ${fmt(values.reduce((a, b) => a + b, 0) / Math.max(1, values.length))}; ${values.map((v, i) => `${f.from + i + 1}: ${fmt(v)}`).join(', ')}`;
          if (seekToStart) this.seek(f.from);
          else this.drawPrediction();
        })
        .catch((e: unknown) => {
          if (current()) this.fail(e);
        })
        .finally(() => (go.disabled = false));
    };
    go.addEventListener('click', () => run(true));
    this.el.model.replaceChildren(h('h3', { textContent: `World model ${m.id} (camera ${m.camera}, ${m.width}×${m.height})` }), h('div', { className: 'controls' }, h('label', {}, 'start frame ', start), here, h('label', {}, ' horizon ', horizon), go), h('p', { className: 'muted', textContent: 'truth | open-loop prediction | error (×4), following the player from the start frame' }), canvas, mse);
    // The first prediction (from frame 0) comes without a click, leaving the player where it is.
    run(false);
  }

  private drawPrediction(): void {
    const p = this.prediction;
    if (!p) return;
    const canvas = this.el.model.querySelector('canvas')!;
    const k = Math.max(0, Math.min(p.frames.count - 1, this.frame - p.start));
    const { width, height } = p.frames;
    const img = new ImageData(width, height);
    const src = p.frames.data.subarray(k * width * height * 3);
    for (let i = 0; i < width * height; i++) {
      img.data[i * 4] = src[i * 3]!;
      img.data[i * 4 + 1] = src[i * 3 + 1]!;
      img.data[i * 4 + 2] = src[i * 3 + 2]!;
      img.data[i * 4 + 3] = 255;
    }
    canvas.getContext('2d')!.putImageData(img, 0, 0);
    canvas.dataset.frame = String(p.start + k);
  }

  state(): { episode: number; frame: number; cursorFrame: number; overlays: string[]; length: number; playing: boolean } {
    return {
      episode: this.episode,
      frame: this.frame,
      cursorFrame: this.plots.cursorFrame(),
      overlays: this.cameras.flatMap((c) => [...c.overlays.entries()].filter(([, o]) => o.enabled && o.frames).map(([ch]) => `${c.camera.name}.${ch}`)),
      length: this.length,
      playing: this.playing,
    };
  }
}

/** A part of frames must be the camera's size and start where it was asked, else the page would draw garbage. */
function checkPart(part: Frames, camera: Camera, from: number, what: string): void {
  const frameBytes = camera.width * camera.height * 3;
  if (part.width !== camera.width || part.height !== camera.height || part.from !== from || !(part.count >= 1) || part.data.length !== part.count * frameBytes) {
    throw new ApiError('E_PAGE', `${what}: the server sent ${part.count} frame(s) of ${part.width}x${part.height} from ${part.from} in ${part.data.length} bytes; expected frames of ${camera.width}x${camera.height} from ${from}; reload the page`);
  }
}

declare global {
  interface Window {
    trajforgeView: {
      ready: Promise<void>;
      seek(frame: number): void;
      select(episode: number): Promise<void>;
      state(): ReturnType<Viewer['state']>;
    };
  }
}

const root = document.getElementById('app') ?? document.body;
const viewer = new Viewer(root);
window.addEventListener('error', (e) => viewer.fail(e.error ?? e.message));
window.addEventListener('unhandledrejection', (e) => viewer.fail(e.reason));
window.trajforgeView = {
  ready: viewer.ready,
  seek: (frame) => viewer.seek(frame),
  select: (episode) => viewer.select(episode),
  state: () => viewer.state(),
};
viewer.ready.catch(() => undefined);
void viewer.start();

import { TrajforgeError } from '../core/errors.js';
import { GLYPH_ADVANCE, GLYPH_HEIGHT, GLYPH_WIDTH, glyph, textHeight, textWidth } from './font.js';

/**
 * Pure chart rendering for evaluation reports: line charts, bar charts and image grids drawn into
 * plain RGB buffers. No I/O — encode the result with src/render/png.ts and write it elsewhere.
 */

export type Rgb = readonly [number, number, number];

export interface Series {
  name: string;
  x: readonly number[];
  y: readonly number[];
  color?: Rgb;
  dashed?: boolean;
}

export interface LineChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly Series[];
  /** Default 640. */
  width?: number;
  /** Default 400. */
  height?: number;
  /** Logarithmic y axis; non-positive values are skipped like NaN. */
  logY?: boolean;
  yMin?: number;
  yMax?: number;
}

export interface BarChartOptions {
  title: string;
  yLabel: string;
  labels: readonly string[];
  values: readonly number[];
  /** One colour per bar; missing entries fall back to the default palette. */
  colors?: readonly Rgb[];
  width?: number;
  height?: number;
}

export interface ImageGridOptions {
  /** Pixels between cells (default 4). */
  gap?: number;
  /** Integer nearest-neighbour upscale applied to every cell (default 1). */
  scale?: number;
  /** One caption per column, drawn above it. */
  captions?: readonly string[];
  /** One label per row, drawn in a strip left of it (e.g. truth / model / baseline). */
  rowLabels?: readonly string[];
}

export interface RgbImage {
  width: number;
  height: number;
  /** width * height * 3 bytes, row-major RGB. */
  data: Uint8Array;
}

/** matplotlib's tab10: well separated and familiar from papers. */
export const DEFAULT_PALETTE: readonly Rgb[] = [
  [31, 119, 180],
  [255, 127, 14],
  [44, 160, 44],
  [214, 39, 40],
  [148, 103, 189],
  [140, 86, 75],
  [227, 119, 194],
  [127, 127, 127],
  [188, 189, 34],
  [23, 190, 207],
];

const WHITE: Rgb = [255, 255, 255];
const INK: Rgb = [34, 34, 34];
const AXIS: Rgb = [64, 64, 64];
const GRID: Rgb = [228, 228, 228];
const LEGEND_BORDER: Rgb = [190, 190, 190];

const TICK_LENGTH = 4;
const PAD = 8;
const LINE_HALF_WIDTH = 1;
const MARKER_RADIUS = 2.5;
const DASH_ON = 6;
const DASH_PERIOD = 10;

// ---------------------------------------------------------------------------------------------
// Ticks and number formatting

/** `mantissa * 10^exponent` computed so decimals come out exact (0.6, not 0.6000000000000001). */
function scaled(mantissa: number, exponent: number): number {
  return exponent < 0 ? mantissa / 10 ** -exponent : mantissa * 10 ** exponent;
}

/**
 * "Nice" ticks (1, 2 or 5 × 10^k apart) for [min, max]: normally 4 to count + 1 of them with the
 * first ≤ min and the last ≥ max, so an axis can end on ticks. When covering the range would
 * leave only 3 ticks, the next finer step's ticks inside [min, max] are returned instead.
 */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max) || min > max || !(count >= 1)) {
    throw new TrajforgeError('E_USAGE', `niceTicks needs finite min <= max and count >= 1 (got ${min}, ${max}, ${count})`);
  }
  if (min === max) {
    const pad = min === 0 ? 1 : Math.abs(min) * 0.5;
    return niceTicks(min - pad, max + pad, count);
  }
  // Tolerance so that e.g. 0.6 / 0.2 = 2.9999999999999996 still counts as an exact multiple.
  const eps = 1e-9;
  const ticksFor = (mantissa: number, exponent: number, inside: boolean): number[] => {
    const step = scaled(mantissa, exponent);
    const lo = inside ? Math.ceil(min / step - eps) : Math.floor(min / step + eps);
    const hi = inside ? Math.floor(max / step + eps) : Math.ceil(max / step - eps);
    const ticks: number[] = [];
    for (let i = lo; i <= hi; i++) ticks.push(scaled(i * mantissa, exponent) + 0); // + 0 turns -0 into 0
    return ticks;
  };
  const steps: [number, number][] = [];
  for (let exponent = Math.floor(Math.log10((max - min) / count)); ; exponent++) {
    for (const mantissa of [1, 2, 5]) {
      const covering = ticksFor(mantissa, exponent, false);
      if (covering.length <= count + 1) {
        const finer = steps[steps.length - 1];
        if (covering.length < 4 && finer) {
          const inner = ticksFor(finer[0], finer[1], true);
          if (inner.length >= 4 && inner.length <= count + 1) return inner;
        }
        return covering;
      }
      steps.push([mantissa, exponent]);
    }
  }
}

/** Decade ticks (1, 10, 100, ...) covering [min, max] (both > 0), skipping decades when there are too many. */
export function logTicks(min: number, max: number, count = 5): number[] {
  if (!(min > 0) || !(max >= min) || !Number.isFinite(max)) {
    throw new TrajforgeError('E_USAGE', `logTicks needs 0 < min <= max (got ${min}, ${max})`);
  }
  let lo = Math.floor(Math.log10(min) + 1e-9);
  let hi = Math.ceil(Math.log10(max) - 1e-9);
  if (hi === lo) hi++;
  const stride = Math.max(1, Math.ceil((hi - lo) / count));
  lo = Math.floor(lo / stride) * stride;
  hi = Math.ceil(hi / stride) * stride;
  const ticks: number[] = [];
  // Parsing "1e-3" gives the exact nearest double, unlike 10 ** -3 on some engines.
  for (let k = lo; k <= hi; k += stride) ticks.push(Number(`1e${k}`));
  return ticks;
}

const MAX_LABEL_CHARS = 7;

/** "2.5e-4" rather than "2.50e-4"; axis labels keep trailing zeros so decimals line up. */
function exponential(value: number, mantissaDigits: number, trimZeros: boolean): string {
  const [mantissa = '', exponent = ''] = value.toExponential(mantissaDigits).split('e');
  const trimmed = trimZeros && mantissa.includes('.') ? mantissa.replace(/\.?0+$/, '') : mantissa;
  return `${trimmed}e${exponent.replace('+', '')}`;
}

/**
 * Labels for one axis's ticks: fixed-point with the decimals the spacing needs, or — when any
 * label would be tiny, huge or longer than 7 characters — exponent form ("1e-4", "2.5e6") for all
 * of them, so one axis never mixes styles. On a log axis each decade sets its own decimals.
 * Labels stay within 7 characters plus a minus sign ("-1.55e-5"); a range under ~1 % of its offset,
 * whose ticks need four significant digits, can take 8 ("3.625e-3").
 */
export function formatTicks(ticks: readonly number[], log = false): string[] {
  const nonZero = ticks.filter((t) => t !== 0).map(Math.abs);
  if (nonZero.length === 0) return ticks.map(() => '0');
  const step = ticks.length > 1 ? Math.min(...ticks.slice(1).map((t, i) => Math.abs(t - ticks[i]!))) : Math.min(...nonZero);
  const magnitude = (v: number): number => Math.floor(Math.log10(v) + 1e-9);
  const fixed = ticks.map((t) => t.toFixed(Math.max(0, -magnitude(log ? Math.abs(t) : step))));
  const smallest = Math.min(...nonZero);
  const largest = Math.max(...nonZero);
  if (smallest >= 1e-3 && largest < 1e5 && fixed.every((s) => s.length <= MAX_LABEL_CHARS)) return fixed;
  // One mantissa precision for the whole axis: enough to tell neighbouring ticks apart at the largest magnitude.
  const digits = log ? 0 : Math.min(3, Math.max(0, magnitude(largest) - magnitude(step)));
  return ticks.map((t) => (t === 0 ? '0' : exponential(t, digits, false)));
}

/** A single value (bar annotations): 3 significant digits, at most 7 characters. */
export function formatValue(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (value === 0) return '0';
  const abs = Math.abs(value);
  if (abs >= 1e-3 && abs < 1e5) {
    const s = Number(value.toPrecision(3)).toString();
    if (s.length <= MAX_LABEL_CHARS) return s;
  }
  return exponential(value, 2, true);
}

// ---------------------------------------------------------------------------------------------
// Pixel primitives

function blankImage(width: number, height: number): RgbImage {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new TrajforgeError('E_USAGE', `image size must be positive integers (got ${width}×${height})`);
  }
  return { width, height, data: new Uint8Array(width * height * 3).fill(255) };
}

/** Mixes `color` over the pixel with opacity `alpha` (0–1); out-of-bounds pixels are ignored. */
function blendPixel(img: RgbImage, x: number, y: number, color: Rgb, alpha = 1): void {
  if (x < 0 || y < 0 || x >= img.width || y >= img.height || alpha <= 0) return;
  const i = 3 * (y * img.width + x);
  const a = Math.min(1, alpha);
  for (let c = 0; c < 3; c++) img.data[i + c] = Math.round(img.data[i + c]! * (1 - a) + color[c]! * a);
}

function fillRect(img: RgbImage, x: number, y: number, w: number, h: number, color: Rgb): void {
  const x0 = Math.max(0, Math.round(x));
  const y0 = Math.max(0, Math.round(y));
  const x1 = Math.min(img.width, Math.round(x + w));
  const y1 = Math.min(img.height, Math.round(y + h));
  for (let py = y0; py < y1; py++) {
    for (let px = x0; px < x1; px++) {
      const i = 3 * (py * img.width + px);
      img.data[i] = color[0];
      img.data[i + 1] = color[1];
      img.data[i + 2] = color[2];
    }
  }
}

function strokeRect(img: RgbImage, x: number, y: number, w: number, h: number, color: Rgb): void {
  fillRect(img, x, y, w, 1, color);
  fillRect(img, x, y + h - 1, w, 1, color);
  fillRect(img, x, y, 1, h, color);
  fillRect(img, x + w - 1, y, 1, h, color);
}

/** Draws `text` with its top-left corner at (x, y). */
function drawText(img: RgbImage, text: string, x: number, y: number, color: Rgb, scale = 1): void {
  let penX = Math.round(x);
  const top = Math.round(y);
  for (const ch of text) {
    const rows = glyph(ch);
    for (let gy = 0; gy < GLYPH_HEIGHT; gy++) {
      const bits = rows[gy]!;
      for (let gx = 0; gx < GLYPH_WIDTH; gx++) {
        if ((bits >> (GLYPH_WIDTH - 1 - gx)) & 1) fillRect(img, penX + gx * scale, top + gy * scale, scale, scale, color);
      }
    }
    penX += GLYPH_ADVANCE * scale;
  }
}

/** Draws `text` rotated 90° counter-clockwise (reading bottom to top) with its bounding box's top-left at (x, y). */
function drawTextVertical(img: RgbImage, text: string, x: number, y: number, color: Rgb, scale = 1): void {
  const length = textWidth(text, scale);
  let along = 0;
  for (const ch of text) {
    const rows = glyph(ch);
    for (let gy = 0; gy < GLYPH_HEIGHT; gy++) {
      const bits = rows[gy]!;
      for (let gx = 0; gx < GLYPH_WIDTH; gx++) {
        if ((bits >> (GLYPH_WIDTH - 1 - gx)) & 1) {
          fillRect(img, Math.round(x) + gy * scale, Math.round(y) + length - along - (gx + 1) * scale, scale, scale, color);
        }
      }
    }
    along += GLYPH_ADVANCE * scale;
  }
}

/** Cuts `text` so it fits `maxWidth` pixels, marking the cut with a trailing '.'. */
function fitText(text: string, maxWidth: number, scale: number): string {
  const chars = [...text];
  const fits = Math.floor(maxWidth / (GLYPH_ADVANCE * scale));
  if (chars.length <= fits) return text;
  return fits <= 1 ? chars.slice(0, Math.max(0, fits)).join('') : `${chars.slice(0, fits - 1).join('')}.`;
}

/**
 * Breaks `text` at spaces into at most `maxLines` lines of `maxWidth` pixels (joined by '\n');
 * a word longer than a line, or text left over after the last line, is cut as fitText cuts.
 */
export function wrapText(text: string, maxWidth: number, scale: number, maxLines: number): string {
  const fits = Math.max(1, Math.floor(maxWidth / (GLYPH_ADVANCE * scale)));
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    const next = line === '' ? word : `${line} ${word}`;
    if ([...next].length <= fits || line === '') line = next;
    else {
      lines.push(line);
      line = word;
    }
  }
  lines.push(line);
  const kept = lines.slice(0, maxLines);
  if (lines.length > maxLines) kept[maxLines - 1] = `${kept[maxLines - 1]} ${lines.slice(maxLines).join(' ')}`;
  return kept.map((l) => fitText(l, maxWidth, scale)).join('\n');
}

interface Rect {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

/**
 * Per-series coverage (0–1, max over segments rather than summed) so overlapping segment ends do
 * not darken the joints; composited once per series.
 */
class Coverage {
  readonly alpha: Float32Array;
  constructor(
    readonly width: number,
    readonly height: number,
    readonly clip: Rect,
  ) {
    this.alpha = new Float32Array(width * height);
  }

  private put(x: number, y: number, a: number): void {
    const i = y * this.width + x;
    if (a > this.alpha[i]!) this.alpha[i] = a;
  }

  /**
   * Anti-aliased thick segment: each pixel's coverage falls off linearly with its distance to the
   * segment (pixel centres at integer coordinates). `dashStart` is the arc length already drawn
   * along the polyline, so dashes continue across vertices.
   */
  segment(ax: number, ay: number, bx: number, by: number, halfWidth: number, dashStart?: number): void {
    const reach = halfWidth + 1;
    const x0 = Math.max(this.clip.left, Math.floor(Math.min(ax, bx) - reach));
    const x1 = Math.min(this.clip.right, Math.ceil(Math.max(ax, bx) + reach));
    const y0 = Math.max(this.clip.top, Math.floor(Math.min(ay, by) - reach));
    const y1 = Math.min(this.clip.bottom, Math.ceil(Math.max(ay, by) + reach));
    const dx = bx - ax;
    const dy = by - ay;
    const len2 = dx * dx + dy * dy;
    const len = Math.sqrt(len2);
    for (let py = y0; py <= y1; py++) {
      for (let px = x0; px <= x1; px++) {
        const t = len2 === 0 ? 0 : Math.min(1, Math.max(0, ((px - ax) * dx + (py - ay) * dy) / len2));
        if (dashStart !== undefined && (dashStart + t * len) % DASH_PERIOD >= DASH_ON) continue;
        const d = Math.hypot(px - (ax + t * dx), py - (ay + t * dy));
        const a = halfWidth + 0.5 - d;
        if (a > 0) this.put(px, py, Math.min(1, a));
      }
    }
  }

  disk(cx: number, cy: number, radius: number): void {
    for (let py = Math.max(this.clip.top, Math.floor(cy - radius - 1)); py <= Math.min(this.clip.bottom, Math.ceil(cy + radius + 1)); py++) {
      for (let px = Math.max(this.clip.left, Math.floor(cx - radius - 1)); px <= Math.min(this.clip.right, Math.ceil(cx + radius + 1)); px++) {
        const a = radius + 0.5 - Math.hypot(px - cx, py - cy);
        if (a > 0) this.put(px, py, Math.min(1, a));
      }
    }
  }

  compositeOnto(img: RgbImage, color: Rgb, ink: Uint8Array): void {
    for (let i = 0; i < this.alpha.length; i++) {
      const a = this.alpha[i]!;
      if (a <= 0) continue;
      ink[i] = 1;
      blendPixel(img, i % this.width, Math.floor(i / this.width), color, a);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Axes

interface Axis {
  lo: number;
  hi: number;
  ticks: number[];
  labels: string[];
  log: boolean;
}

function linearAxis(dataMin: number, dataMax: number, fixedMin?: number, fixedMax?: number): Axis {
  let min = fixedMin ?? (Number.isFinite(dataMin) ? dataMin : 0);
  let max = fixedMax ?? (Number.isFinite(dataMax) ? dataMax : 1);
  if (min > max) [min, max] = [max, min];
  const ticks = niceTicks(min, max);
  // Explicit limits are kept exactly; otherwise the axis ends at the outer ticks (or at the data, for inner ticks).
  const lo = fixedMin ?? Math.min(ticks[0]!, min);
  const hi = fixedMax ?? Math.max(ticks[ticks.length - 1]!, max);
  const inside = ticks.filter((t) => t >= lo - 1e-12 * Math.abs(hi - lo) && t <= hi + 1e-12 * Math.abs(hi - lo));
  return { lo, hi: hi > lo ? hi : lo + 1, ticks: inside, labels: formatTicks(inside), log: false };
}

function logAxis(dataMin: number, dataMax: number, fixedMin?: number, fixedMax?: number): Axis {
  if ((fixedMin !== undefined && !(fixedMin > 0)) || (fixedMax !== undefined && !(fixedMax > 0))) {
    throw new TrajforgeError('E_USAGE', `a log axis needs positive yMin/yMax (got ${fixedMin}, ${fixedMax})`);
  }
  const min = fixedMin ?? (Number.isFinite(dataMin) ? dataMin : 1);
  const max = fixedMax ?? (Number.isFinite(dataMax) ? dataMax : 10);
  const ticks = logTicks(Math.min(min, max), Math.max(min, max));
  const lo = fixedMin ?? ticks[0]!;
  const hi = fixedMax ?? ticks[ticks.length - 1]!;
  const inside = ticks.filter((t) => t >= lo * (1 - 1e-9) && t <= hi * (1 + 1e-9));
  return { lo, hi: hi > lo ? hi : lo * 10, ticks: inside, labels: formatTicks(inside, true), log: true };
}

/** Fraction (0 at lo, 1 at hi) of `value` along the axis; NaN where it cannot be placed. */
function axisFraction(axis: Axis, value: number): number {
  if (!Number.isFinite(value)) return NaN;
  if (axis.log) return value > 0 ? (Math.log10(value) - Math.log10(axis.lo)) / (Math.log10(axis.hi) - Math.log10(axis.lo)) : NaN;
  return (value - axis.lo) / (axis.hi - axis.lo);
}

interface Frame {
  img: RgbImage;
  plot: Rect;
  scale: number;
}

/** Text scale for a chart of this size: 1 at the 640×400 default, 2 from about twice that. */
function chartTextScale(width: number, height: number): number {
  return Math.max(1, Math.floor(Math.min(width / 640, height / 400) + 0.25));
}

/**
 * Lays out title, axis labels and tick labels around a plot rectangle, draws them with the grid
 * and frame, and returns the rectangle for the data.
 */
function drawFrame(
  width: number,
  height: number,
  texts: { title: string; xLabel: string; yLabel: string },
  yAxis: Axis,
  xTicks: { positions: (plot: Rect) => number[]; labels: string[]; grid: boolean },
): Frame {
  const img = blankImage(width, height);
  const scale = chartTextScale(width, height);
  const titleScale = scale + 1;
  const lineH = textHeight(scale);
  const yLabelWidth = Math.max(0, ...yAxis.labels.map((l) => textWidth(l, scale)));
  // Tick labels may hold several lines ('\n'): the frame leaves room for the tallest.
  const xLines = Math.max(1, ...xTicks.labels.map((l) => l.split('\n').length));
  const lastXLabel = (xTicks.labels[xTicks.labels.length - 1] ?? '').split('\n').reduce((a, b) => (b.length > a.length ? b : a), '');
  const plot: Rect = {
    left: PAD + (texts.yLabel ? lineH + PAD : 0) + yLabelWidth + TICK_LENGTH + 4,
    top: PAD + (texts.title ? textHeight(titleScale) + PAD : 4),
    right: width - 1 - Math.max(2 * PAD, Math.ceil(textWidth(lastXLabel, scale) / 2) + 2),
    bottom: height - 1 - (TICK_LENGTH + 4 + xLines * lineH + (texts.xLabel ? PAD + lineH : 0) + PAD),
  };
  if (plot.right - plot.left < 20 || plot.bottom - plot.top < 20) {
    throw new TrajforgeError('E_USAGE', `chart ${width}×${height} is too small for its labels`);
  }

  if (texts.title) {
    const title = fitText(texts.title, width - 2 * PAD, titleScale);
    drawText(img, title, (width - textWidth(title, titleScale)) / 2, PAD, INK, titleScale);
  }
  if (texts.yLabel) {
    const label = fitText(texts.yLabel, plot.bottom - plot.top, scale);
    drawTextVertical(img, label, PAD, (plot.top + plot.bottom - textWidth(label, scale)) / 2, INK, scale);
  }
  if (texts.xLabel) {
    const label = fitText(texts.xLabel, plot.right - plot.left, scale);
    drawText(img, label, (plot.left + plot.right - textWidth(label, scale)) / 2, height - PAD - lineH, INK, scale);
  }

  // Cap height (7 rows of the 8-row cell) centres digits on their tick.
  const capHeight = (GLYPH_HEIGHT - 1) * scale;
  yAxis.ticks.forEach((t, i) => {
    const y = Math.round(plot.bottom - axisFraction(yAxis, t) * (plot.bottom - plot.top));
    fillRect(img, plot.left + 1, y, plot.right - plot.left - 1, 1, GRID);
    fillRect(img, plot.left - TICK_LENGTH, y, TICK_LENGTH, 1, AXIS);
    const label = yAxis.labels[i]!;
    drawText(img, label, plot.left - TICK_LENGTH - 3 - textWidth(label, scale), y - Math.floor(capHeight / 2), INK, scale);
  });
  xTicks.positions(plot).forEach((x, i) => {
    const px = Math.round(x);
    if (xTicks.grid) fillRect(img, px, plot.top + 1, 1, plot.bottom - plot.top - 1, GRID);
    fillRect(img, px, plot.bottom + 1, 1, TICK_LENGTH, AXIS);
    xTicks.labels[i]!.split('\n').forEach((label, k) => {
      drawText(img, label, px - Math.floor(textWidth(label, scale) / 2) + scale / 2, plot.bottom + TICK_LENGTH + 4 + k * lineH, INK, scale);
    });
  });
  strokeRect(img, plot.left, plot.top, plot.right - plot.left + 1, plot.bottom - plot.top + 1, AXIS);
  return { img, plot, scale };
}

// ---------------------------------------------------------------------------------------------
// Line chart

function validateSeries(series: readonly Series[]): void {
  for (const s of series) {
    if (s.x.length !== s.y.length) {
      throw new TrajforgeError('E_USAGE', `series "${s.name}" has ${s.x.length} x values but ${s.y.length} y values`);
    }
  }
}

function finiteRange(values: Iterable<number>, positiveOnly: boolean): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (!Number.isFinite(v) || (positiveOnly && v <= 0)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

/**
 * A line chart: one polyline (2 px, anti-aliased) per series, broken at NaN/±Infinity (and at
 * non-positive values on a log axis), with markers at data points unless they are too dense to
 * tell apart, a nice-ticked grid, title, axis labels and a legend in the emptiest corner.
 */
export function lineChart(options: LineChartOptions): RgbImage {
  const width = options.width ?? 640;
  const height = options.height ?? 400;
  validateSeries(options.series);
  const logY = options.logY ?? false;

  const usable = (s: Series, i: number): boolean => Number.isFinite(s.x[i]!) && Number.isFinite(s.y[i]!) && (!logY || s.y[i]! > 0);
  const points = options.series.flatMap((s) => s.x.map((_, i) => i).filter((i) => usable(s, i)).map((i) => [s.x[i]!, s.y[i]!] as const));
  const [xMin, xMax] = finiteRange(points.map((p) => p[0]), false);
  const [yMin, yMax] = finiteRange(points.map((p) => p[1]), logY);
  const xAxis = linearAxis(xMin, xMax);
  const yAxis = logY ? logAxis(yMin, yMax, options.yMin, options.yMax) : linearAxis(yMin, yMax, options.yMin, options.yMax);

  const toX = (plot: Rect, v: number): number => plot.left + axisFraction(xAxis, v) * (plot.right - plot.left);
  const toY = (plot: Rect, v: number): number => plot.bottom - axisFraction(yAxis, v) * (plot.bottom - plot.top);
  const { img, plot, scale } = drawFrame(width, height, options, yAxis, {
    positions: (p) => xAxis.ticks.map((t) => toX(p, t)),
    labels: xAxis.labels,
    grid: true,
  });

  const ink = new Uint8Array(width * height);
  // Lines and markers thicken with the text on large charts so they keep their weight.
  const weight = 1 + (scale - 1) / 2;
  const colorOf = (i: number): Rgb => options.series[i]!.color ?? DEFAULT_PALETTE[i % DEFAULT_PALETTE.length]!;
  // Markers only while they stay apart; on dense curves they would merge into a thick smear.
  const maxMarkers = (plot.right - plot.left) / (4 * MARKER_RADIUS * weight);
  options.series.forEach((s, si) => {
    const coverage = new Coverage(width, height, plot);
    const usableCount = s.x.reduce((n, _, i) => n + (usable(s, i) ? 1 : 0), 0);
    let prev: [number, number] | undefined;
    let dashAt = 0;
    for (let i = 0; i < s.x.length; i++) {
      if (!usable(s, i)) {
        prev = undefined; // a gap: the line restarts at the next usable point
        dashAt = 0;
        continue;
      }
      const p: [number, number] = [toX(plot, s.x[i]!), toY(plot, s.y[i]!)];
      if (prev) {
        coverage.segment(prev[0], prev[1], p[0], p[1], LINE_HALF_WIDTH * weight, s.dashed ? dashAt : undefined);
        dashAt += Math.hypot(p[0] - prev[0], p[1] - prev[1]);
      }
      if (usableCount <= maxMarkers) coverage.disk(p[0], p[1], MARKER_RADIUS * weight);
      prev = p;
    }
    coverage.compositeOnto(img, colorOf(si), ink);
  });
  // Redraw the frame: lines on the border would otherwise hide it.
  strokeRect(img, plot.left, plot.top, plot.right - plot.left + 1, plot.bottom - plot.top + 1, AXIS);

  drawLegend(
    img,
    plot,
    options.series.map((s, i) => ({ name: s.name, color: colorOf(i), dashed: s.dashed ?? false })),
    ink,
    scale,
    weight,
  );
  return img;
}

function drawLegend(img: RgbImage, plot: Rect, entries: readonly { name: string; color: Rgb; dashed: boolean }[], ink: Uint8Array, scale: number, weight: number): void {
  if (entries.length === 0) return;
  const swatch = 16 * scale;
  const rowH = textHeight(scale) + 4;
  const maxTextW = Math.max(...entries.map((e) => textWidth(e.name, scale)));
  const boxW = Math.min(plot.right - plot.left - 8, 6 + swatch + 6 + maxTextW + 6);
  const boxH = Math.min(plot.bottom - plot.top - 8, 4 + entries.length * rowH);
  const inset = 6;
  const corners = [
    { x: plot.right - inset - boxW, y: plot.top + inset }, // top right first: the conventional spot
    { x: plot.left + inset, y: plot.top + inset },
    { x: plot.right - inset - boxW, y: plot.bottom - inset - boxH },
    { x: plot.left + inset, y: plot.bottom - inset - boxH },
  ];
  // Put the legend where it hides the fewest drawn data pixels.
  let best = corners[0]!;
  let bestCovered = Infinity;
  for (const c of corners) {
    let covered = 0;
    for (let y = c.y; y < c.y + boxH; y++) for (let x = c.x; x < c.x + boxW; x++) covered += ink[y * img.width + x] ?? 0;
    if (covered < bestCovered) {
      best = c;
      bestCovered = covered;
    }
  }
  fillRect(img, best.x, best.y, boxW, boxH, WHITE);
  strokeRect(img, best.x, best.y, boxW, boxH, LEGEND_BORDER);
  const clip: Rect = { left: best.x + 1, top: best.y + 1, right: best.x + boxW - 2, bottom: best.y + boxH - 2 };
  entries.forEach((e, i) => {
    const rowTop = best.y + 4 + i * rowH;
    if (rowTop + rowH > best.y + boxH + 2) return; // more entries than fit: the box is clipped to the plot
    const midY = rowTop + Math.floor((GLYPH_HEIGHT - 1) * scale / 2);
    const coverage = new Coverage(img.width, img.height, clip);
    coverage.segment(best.x + 6, midY, best.x + 6 + swatch, midY, LINE_HALF_WIDTH * weight, e.dashed ? 0 : undefined);
    coverage.disk(best.x + 6 + swatch / 2, midY, MARKER_RADIUS * weight);
    coverage.compositeOnto(img, e.color, new Uint8Array(img.width * img.height));
    drawText(img, fitText(e.name, boxW - swatch - 18, scale), best.x + 6 + swatch + 6, rowTop, INK, scale);
  });
}

// ---------------------------------------------------------------------------------------------
// Bar chart

/** Vertical bars from zero, one per label, with the value printed above (below, if negative) each bar. */
export function barChart(options: BarChartOptions): RgbImage {
  const width = options.width ?? 640;
  const height = options.height ?? 400;
  if (options.labels.length !== options.values.length) {
    throw new TrajforgeError('E_USAGE', `barChart got ${options.labels.length} labels but ${options.values.length} values`);
  }
  const [lo, hi] = finiteRange(options.values, false);
  // Bars grow from zero, so zero is always on the axis.
  const yAxis = linearAxis(Math.min(0, Number.isFinite(lo) ? lo : 0), Math.max(0, Number.isFinite(hi) ? hi : 1));
  const n = options.values.length;
  const slot = (plot: Rect): number => (plot.right - plot.left) / Math.max(1, n);
  const scaleGuess = chartTextScale(width, height);
  const { img, plot, scale } = drawFrame(width, height, { title: options.title, xLabel: '', yLabel: options.yLabel }, yAxis, {
    positions: (p) => options.labels.map((_, i) => p.left + (i + 0.5) * slot(p)),
    // Labels wrap onto two lines of their slot, then are cut; the slot is only known once the frame is laid out, so estimate it.
    labels: options.labels.map((l) => wrapText(l, (width * 0.8) / Math.max(1, n) - 4, scaleGuess, 2)),
    grid: false,
  });
  const toY = (v: number): number => plot.bottom - axisFraction(yAxis, v) * (plot.bottom - plot.top);
  const zeroY = toY(0);
  const barW = Math.max(1, Math.round(slot(plot) * 0.7));
  options.values.forEach((v, i) => {
    if (!Number.isFinite(v)) return;
    const color = options.colors?.[i] ?? DEFAULT_PALETTE[i % DEFAULT_PALETTE.length]!;
    const x = Math.round(plot.left + (i + 0.5) * slot(plot) - barW / 2);
    const top = Math.round(Math.min(zeroY, toY(v)));
    const bottom = Math.round(Math.max(zeroY, toY(v)));
    fillRect(img, x, top, barW, Math.max(1, bottom - top), color);
    const text = fitText(formatValue(v), slot(plot), scale);
    const h = textHeight(scale);
    const outside = v >= 0 ? top - h - 2 : bottom + 3;
    // A bar reaching the frame has no room outside, so its value goes inside it, in white.
    const fitsOutside = outside >= plot.top + 2 && outside + h <= plot.bottom - 2;
    const textY = fitsOutside ? outside : v >= 0 ? top + 3 : bottom - h - 2;
    drawText(img, text, x + (barW - textWidth(text, scale)) / 2, textY, fitsOutside ? INK : WHITE, scale);
  });
  // The zero line separates positive from negative bars.
  fillRect(img, plot.left, Math.round(zeroY), plot.right - plot.left + 1, 1, AXIS);
  return img;
}

// ---------------------------------------------------------------------------------------------
// Image grid

function checkImage(image: RgbImage, where: string): void {
  if (!Number.isInteger(image.width) || !Number.isInteger(image.height) || image.width < 0 || image.height < 0 || image.data.length !== image.width * image.height * 3) {
    throw new TrajforgeError('E_USAGE', `${where}: ${image.width}×${image.height} RGB image needs ${image.width * image.height * 3} bytes, has ${image.data.length}`);
  }
}

/**
 * Tiles images (e.g. frames truth | prediction | error) row by row on a white background. Every
 * column is as wide as its widest (scaled) image and every row as tall as its tallest; images sit
 * at their cell's top-left. Captions, if given, form a strip above the columns.
 */
export function imageGrid(rows: readonly (readonly RgbImage[])[], options: ImageGridOptions = {}): RgbImage {
  const gap = options.gap ?? 4;
  const scale = options.scale ?? 1;
  if (!Number.isInteger(scale) || scale < 1) throw new TrajforgeError('E_USAGE', `imageGrid scale must be a positive integer (got ${scale})`);
  if (!Number.isInteger(gap) || gap < 0) throw new TrajforgeError('E_USAGE', `imageGrid gap must be a non-negative integer (got ${gap})`);
  rows.forEach((row, r) => row.forEach((image, c) => checkImage(image, `imageGrid cell [${r}][${c}]`)));

  const columns = Math.max(0, options.captions?.length ?? 0, ...rows.map((r) => r.length));
  const colWidths = Array.from({ length: columns }, (_, c) => Math.max(0, ...rows.map((r) => (r[c]?.width ?? 0) * scale)));
  const rowHeights = rows.map((r) => Math.max(0, ...r.map((image) => image.height * scale)));
  const captions = options.captions ?? [];
  // Larger text once every column is wide enough to hold it.
  const captionScale = columns > 0 && Math.min(...colWidths) >= 160 ? 2 : 1;
  const captionHeight = captions.length > 0 ? textHeight(captionScale) + 2 * 3 : 0;
  const rowLabels = options.rowLabels ?? [];
  const labelScale = captionScale;
  const labelWidth = rowLabels.length > 0 ? Math.max(...rowLabels.map((l) => textWidth(l, labelScale))) + 2 * 4 : 0;
  const width = labelWidth + colWidths.reduce((a, b) => a + b, 0) + gap * Math.max(0, columns - 1);
  const height = captionHeight + rowHeights.reduce((a, b) => a + b, 0) + gap * Math.max(0, rows.length - 1);
  const out: RgbImage = { width, height, data: new Uint8Array(width * height * 3).fill(255) };
  if (width === 0 || height === 0) return out;

  const colX: number[] = [];
  colWidths.reduce((x, w) => (colX.push(x), x + w + gap), labelWidth);
  captions.forEach((caption, c) => {
    const text = fitText(caption, colWidths[c]!, captionScale);
    drawText(out, text, colX[c]! + (colWidths[c]! - textWidth(text, captionScale)) / 2, 3, INK, captionScale);
  });
  let y = captionHeight;
  rows.forEach((row, r) => {
    const label = rowLabels[r];
    if (label !== undefined) drawText(out, label, labelWidth - 4 - textWidth(label, labelScale), y + (rowHeights[r]! - textHeight(labelScale)) / 2, INK, labelScale);
    row.forEach((image, c) => {
      const x0 = colX[c]!;
      for (let sy = 0; sy < image.height * scale; sy++) {
        const srcRow = Math.floor(sy / scale) * image.width;
        const dstRow = (y + sy) * width + x0;
        for (let sx = 0; sx < image.width * scale; sx++) {
          const src = 3 * (srcRow + Math.floor(sx / scale));
          const dst = 3 * (dstRow + sx);
          out.data[dst] = image.data[src]!;
          out.data[dst + 1] = image.data[src + 1]!;
          out.data[dst + 2] = image.data[src + 2]!;
        }
      }
    });
    y += rowHeights[r]! + gap;
  });
  return out;
}

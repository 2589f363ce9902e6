/**
 * Time-series plots of one episode with uPlot: one chart per group (state, action, reward, other),
 * every dimension a line, x = frame index. The frame cursor is a line drawn in uPlot's draw hook
 * (so what the test hook reports is what was drawn); a click on a chart seeks to that frame.
 */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { EpisodeSeries } from './api.js';

const GROUP_TITLES: Record<string, string> = { state: 'State (observation.state)', action: 'Action', reward: 'Reward', other: 'Other features' };
/** Distinguishable line colours (Tableau 10), cycled. */
const COLOURS = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];

export class Plots {
  private charts: uPlot[] = [];
  private frame = 0;
  /** The frame the cursor line was last drawn at, per chart (-1 before the first draw). */
  private drawn: number[] = [];

  constructor(
    private readonly root: HTMLElement,
    private readonly onSeek: (frame: number) => void,
  ) {}

  show(series: EpisodeSeries): void {
    this.clear();
    const x = Float64Array.from({ length: series.length }, (_, t) => t);
    const groups = ['state', 'action', 'reward', 'other'].map((g) => ({ group: g, columns: series.columns.filter((c) => c.group === g) })).filter((g) => g.columns.length > 0);
    const width = Math.max(320, Math.min(this.root.clientWidth || 640, 900) - 8);
    for (const g of groups) {
      const box = document.createElement('section');
      box.className = 'plot';
      box.dataset.testid = `plot-${g.group}`;
      const title = document.createElement('h3');
      title.textContent = GROUP_TITLES[g.group] ?? g.group;
      box.append(title);
      this.root.append(box);
      const lines = g.columns.flatMap((c) => c.names.map((name, j) => ({ label: c.names.length === 1 && g.group !== 'other' ? name : c.feature === 'observation.state' || c.feature === 'action' ? name : `${c.feature}${c.names.length > 1 ? `[${name}]` : ''}`, values: c.values[j]! })));
      const index = this.charts.length;
      this.drawn.push(-1);
      const opts: uPlot.Options = {
        width,
        height: g.group === 'state' ? 220 : 160,
        scales: { x: { time: false } },
        legend: { live: true },
        cursor: { drag: { x: false, y: false }, points: { show: false } },
        axes: [{ label: 'frame' }, {}],
        series: [{ label: 'frame' }, ...lines.map((l, i) => ({ label: l.label, stroke: COLOURS[i % COLOURS.length]!, width: 1.25, spanGaps: false, points: { show: false } }))],
        hooks: {
          draw: [
            (u: uPlot) => {
              const px = u.valToPos(this.frame, 'x', true);
              const ctx = u.ctx;
              ctx.save();
              ctx.strokeStyle = '#d62728';
              ctx.lineWidth = 2 * devicePixelRatio;
              ctx.beginPath();
              ctx.moveTo(px, u.bbox.top);
              ctx.lineTo(px, u.bbox.top + u.bbox.height);
              ctx.stroke();
              ctx.restore();
              this.drawn[index] = this.frame;
            },
          ],
        },
      };
      const chart = new uPlot(opts, [x, ...lines.map((l) => l.values.map((v) => (v === null ? null : v)))] as uPlot.AlignedData, box);
      chart.over.addEventListener('click', (e) => {
        const frame = Math.round(chart.posToVal(e.offsetX, 'x'));
        this.onSeek(Math.max(0, Math.min(series.length - 1, frame)));
      });
      chart.over.dataset.testid = `plot-area-${g.group}`;
      // Leaving a chart, its legend goes back to the player's frame.
      chart.over.addEventListener('mouseleave', () => chart.setLegend({ idx: Math.min(this.frame, x.length - 1) }));
      chart.setLegend({ idx: Math.min(this.frame, x.length - 1) });
      this.charts.push(chart);
    }
  }

  /** Moves the cursor line to `frame` on every chart (redraws synchronously). */
  setFrame(frame: number): void {
    this.frame = frame;
    for (const c of this.charts) {
      c.redraw(false, false);
      // The legend reads the player's frame (uPlot shows '--' there unless the mouse is over a chart).
      if (c.cursor.left === undefined || c.cursor.left < 0) c.setLegend({ idx: Math.min(frame, c.data[0].length - 1) });
    }
  }

  /** The frame the cursor is drawn at on every chart, or -1 when the charts disagree or none is drawn. */
  cursorFrame(): number {
    if (this.drawn.length === 0) return -1;
    return this.drawn.every((d) => d === this.drawn[0]) ? this.drawn[0]! : -1;
  }

  clear(): void {
    for (const c of this.charts) c.destroy();
    this.charts = [];
    this.drawn = [];
    this.root.replaceChildren();
  }
}

import { fileURLToPath } from 'node:url';
import type { LineChartOptions } from '../../src/report/plot.js';

export const REPORT_GOLDEN_DIR = fileURLToPath(new URL('../goldens/report/', import.meta.url));
export const LINE_CHART_GOLDEN = 'line-chart.png';

/** The fixed chart behind the line-chart golden: two series, one dashed and broken by a NaN. */
export function goldenLineChartOptions(): LineChartOptions {
  const steps = Array.from({ length: 20 }, (_, i) => i + 1);
  return {
    title: 'Open-loop MSE vs horizon',
    xLabel: 'horizon (steps)',
    yLabel: 'MSE',
    series: [
      { name: 'bilinear', x: steps, y: steps.map((s) => 0.002 * s ** 1.3) },
      { name: 'copy-last', x: steps, y: steps.map((s) => (s === 9 ? NaN : 0.004 * s ** 1.2)), dashed: true },
    ],
  };
}

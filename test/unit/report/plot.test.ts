import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { GLYPH_ADVANCE, GLYPH_HEIGHT, GLYPH_WIDTH, glyph, hasGlyph, textWidth } from '../../../src/report/font.js';
import { barChart, DEFAULT_PALETTE, formatTicks, formatValue, imageGrid, lineChart, logTicks, niceTicks, wrapText, type Rgb, type RgbImage } from '../../../src/report/plot.js';
import { encodePng } from '../../../src/render/png.js';
import { goldenLineChartOptions, LINE_CHART_GOLDEN, REPORT_GOLDEN_DIR } from '../../helpers/report-golden.js';

const BLUE = DEFAULT_PALETTE[0]!;

function pixel(img: RgbImage, x: number, y: number): Rgb {
  const i = 3 * (y * img.width + x);
  return [img.data[i]!, img.data[i + 1]!, img.data[i + 2]!];
}

function isColor(img: RgbImage, x: number, y: number, c: Rgb): boolean {
  const p = pixel(img, x, y);
  return p[0] === c[0] && p[1] === c[1] && p[2] === c[2];
}

/** Pixels of exactly colour `c` per row (index = y). */
function rowCounts(img: RgbImage, c: Rgb): number[] {
  return Array.from({ length: img.height }, (_, y) => {
    let n = 0;
    for (let x = 0; x < img.width; x++) if (isColor(img, x, y, c)) n++;
    return n;
  });
}

/** Mean row of colour-`c` pixels in columns [x0, x1). */
function meanRow(img: RgbImage, c: Rgb, x0: number, x1: number): number {
  let sum = 0;
  let n = 0;
  for (let x = Math.round(x0); x < Math.round(x1); x++) {
    for (let y = 0; y < img.height; y++) {
      if (isColor(img, x, y, c)) {
        sum += y;
        n++;
      }
    }
  }
  expect(n, `no pixels of ${c.join(',')} in columns ${x0}..${x1}`).toBeGreaterThan(0);
  return sum / n;
}

function argmax(values: readonly number[]): number {
  return values.reduce((best, v, i) => (v > values[best]! ? i : best), 0);
}

function solid(width: number, height: number, c: Rgb): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) data.set(c, 3 * i);
  return { width, height, data };
}

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

describe('niceTicks', () => {
  it('returns exact, evenly spaced 1/2/5 × 10^k values covering the range', () => {
    expect(niceTicks(0, 1, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(0.0013, 0.0047, 5)).toEqual([0.001, 0.002, 0.003, 0.004, 0.005]);
    expect(niceTicks(0, 100, 5)).toEqual([0, 20, 40, 60, 80, 100]);
    expect(niceTicks(1, 40, 5)).toEqual([0, 10, 20, 30, 40]);
    expect(niceTicks(-3, 7, 5)).toEqual([-5, 0, 5, 10]);
    expect(niceTicks(1200, 1800, 5)).toEqual([1200, 1400, 1600, 1800]);
    // Covering this range would take 3 ticks (5e-4 apart): the finer step's inner ticks instead.
    expect(niceTicks(0.000587, 0.001498, 5)).toEqual([0.0006, 0.0008, 0.001, 0.0012, 0.0014]);
    // A degenerate range still gets an axis around the value.
    expect(niceTicks(0.5, 0.5, 5)).toEqual([0.2, 0.4, 0.6, 0.8]);
  });

  it('keeps 4–6 nice ticks that cover (or, rarely, lie inside) the data for many random ranges', () => {
    let seed = 12345;
    const rand = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let k = 0; k < 2000; k++) {
      const scale = 10 ** Math.floor(rand() * 12 - 6);
      const a = (rand() * 2 - 1) * scale;
      const b = a + rand() * scale + scale * 1e-3;
      const ticks = niceTicks(a, b, 5);
      expect(ticks.length, `${a}..${b}: ${ticks.join(', ')}`).toBeGreaterThanOrEqual(4);
      expect(ticks.length, `${a}..${b}: ${ticks.join(', ')}`).toBeLessThanOrEqual(6);
      const first = ticks[0]!;
      const last = ticks[ticks.length - 1]!;
      const covers = first <= a && last >= b;
      const inside = first >= a && last <= b;
      expect(covers || inside, `${a}..${b}: ${ticks.join(', ')}`).toBe(true);
      const step = ticks[1]! - ticks[0]!;
      const mantissa = step / 10 ** Math.floor(Math.log10(step) + 1e-9);
      expect([1, 2, 5].some((m) => Math.abs(mantissa - m) < 1e-6), `step ${step}`).toBe(true);
      // Labels are distinct and short whatever the magnitude: 7 characters plus a sign, 8 for ranges
      // under 1 % of their offset (four significant digits).
      const labels = formatTicks(ticks);
      expect(new Set(labels).size).toBe(labels.length);
      const limit = b - a > 0.01 * Math.max(Math.abs(a), Math.abs(b)) ? 7 : 8;
      for (const label of labels) expect(label.replace(/^-/, '').length, label).toBeLessThanOrEqual(limit);
    }
  });

  it('log ticks are decades, thinned when there are many', () => {
    expect(logTicks(1, 100)).toEqual([1, 10, 100]);
    expect(logTicks(0.0013, 4.7)).toEqual([0.001, 0.01, 0.1, 1, 10]);
    expect(logTicks(2, 8)).toEqual([1, 10]);
    expect(logTicks(1e-9, 1e3)).toEqual([1e-9, 1e-6, 1e-3, 1, 1e3]);
  });
});

describe('tick and value formatting', () => {
  it('is compact: fixed decimals the spacing needs, exponent form for tiny or huge values', () => {
    expect(formatTicks([0, 0.2, 0.4, 0.6, 0.8, 1])).toEqual(['0.0', '0.2', '0.4', '0.6', '0.8', '1.0']);
    expect(formatTicks([0.001, 0.002, 0.003])).toEqual(['0.001', '0.002', '0.003']);
    expect(formatTicks([0, 500, 1000, 1500])).toEqual(['0', '500', '1000', '1500']);
    expect(formatTicks([-0.5, 0, 0.5])).toEqual(['-0.5', '0.0', '0.5']);
    expect(formatTicks([0, 1e-4, 2e-4])).toEqual(['0', '1e-4', '2e-4']);
    expect(formatTicks([0, 5e4, 1e5, 1.5e5])).toEqual(['0', '5.0e4', '1.0e5', '1.5e5']);
    expect(formatTicks([0, 1e6, 2e6])).toEqual(['0', '1e6', '2e6']);
    expect(formatTicks([0.003625, 0.00363, 0.003635])).toEqual(['3.625e-3', '3.630e-3', '3.635e-3']);
    expect(formatTicks([0.001, 0.01, 0.1, 1, 10], true)).toEqual(['0.001', '0.01', '0.1', '1', '10']);
    expect(formatTicks([1e-9, 1e-6, 1e-3, 1], true)).toEqual(['1e-9', '1e-6', '1e-3', '1e0']);
    expect(formatValue(0.52)).toBe('0.52');
    expect(formatValue(1500)).toBe('1500');
    expect(formatValue(123456789)).toBe('1.23e8');
    expect(formatValue(-0.000123)).toBe('-1.23e-4');
  });
});

describe('font', () => {
  it('has a well-formed glyph for every printable ASCII character', () => {
    for (let code = 32; code <= 126; code++) {
      const ch = String.fromCharCode(code);
      expect(hasGlyph(ch), `missing ${JSON.stringify(ch)}`).toBe(true);
      const rows = glyph(ch);
      expect(rows).toHaveLength(GLYPH_HEIGHT);
      for (const r of rows) expect(r).toBeLessThan(1 << GLYPH_WIDTH);
      // Only the space is blank.
      expect(rows.some((r) => r !== 0), JSON.stringify(ch)).toBe(code !== 32);
    }
  });

  it('gives distinct glyphs to characters that are easy to confuse', () => {
    const key = (ch: string): string => glyph(ch).join(',');
    for (const [a, b] of [['0', 'O'], ['1', 'l'], ['1', 'I'], ['5', 'S'], ['-', '_'], ['.', ','], ['e', 'c'], ['8', 'B']] as const) {
      expect(key(a), `${a} vs ${b}`).not.toBe(key(b));
    }
    const all = new Set(range(95).map((i) => key(String.fromCharCode(32 + i))));
    expect(all.size).toBe(95);
  });

  it('is monospaced: "abc" is three advances wide, at every scale', () => {
    expect(textWidth('abc')).toBe(3 * GLYPH_ADVANCE);
    expect(textWidth('abc', 2)).toBe(6 * GLYPH_ADVANCE);
    expect(textWidth('')).toBe(0);
  });
});

describe('lineChart', () => {
  it('has the requested size and a white background', () => {
    const img = lineChart({ title: 't', xLabel: 'x', yLabel: 'y', series: [{ name: 's', x: [0, 1], y: [0, 1] }], width: 500, height: 300 });
    expect([img.width, img.height, img.data.length]).toEqual([500, 300, 500 * 300 * 3]);
    for (const [x, y] of [[0, 0], [499, 0], [0, 299], [499, 299]] as const) expect(pixel(img, x, y)).toEqual([255, 255, 255]);
    const dflt = lineChart({ title: 't', xLabel: 'x', yLabel: 'y', series: [] });
    expect([dflt.width, dflt.height]).toEqual([640, 400]);
  });

  it('draws text: the title puts dark pixels at the top centre', () => {
    const img = lineChart({ title: 'TITLE', xLabel: '', yLabel: '', series: [] });
    let dark = 0;
    for (let y = 0; y < 30; y++) for (let x = 280; x < 360; x++) if (pixel(img, x, y)[0] < 80) dark++;
    expect(dark).toBeGreaterThan(40);
  });

  it('draws a constant series as one horizontal row across most of the plot', () => {
    const img = lineChart({ title: 'flat', xLabel: 'x', yLabel: 'y', series: [{ name: 'c', x: range(11), y: range(11).map(() => 0.5) }] });
    const counts = rowCounts(img, BLUE);
    const row = argmax(counts);
    expect(counts[row]!).toBeGreaterThan(0.75 * img.width);
    expect(row).toBeGreaterThan(0.2 * img.height);
    expect(row).toBeLessThan(0.8 * img.height);
    // Thick (≥ 2 px visible) but only one line: other full-width rows are adjacent.
    const strongRows = counts.map((n, y) => [n, y] as const).filter(([n]) => n > 0.5 * img.width).map(([, y]) => y);
    for (const y of strongRows) expect(Math.abs(y - row)).toBeLessThanOrEqual(1);
    let touched = 0;
    for (let y = row - 2; y <= row + 2; y++) if (pixel(img, img.width >> 1, y)[0] < 200) touched++;
    expect(touched).toBeGreaterThanOrEqual(2);
  });

  it('draws an increasing series higher on the right than on the left', () => {
    const img = lineChart({ title: 'up', xLabel: 'x', yLabel: 'y', series: [{ name: 'up', x: range(50), y: range(50).map((i) => i * i) }] });
    const left = meanRow(img, BLUE, 0, img.width / 3);
    const right = meanRow(img, BLUE, (2 * img.width) / 3, img.width);
    expect(right).toBeLessThan(left - 100);
  });

  it('uses each series its own palette colour, or the colour it asks for', () => {
    const orange = DEFAULT_PALETTE[1]!;
    const img = lineChart({
      title: 't',
      xLabel: 'x',
      yLabel: 'y',
      series: [
        { name: 'a', x: [0, 10], y: [1, 1] },
        { name: 'b', x: [0, 10], y: [5, 5] },
        { name: 'c', x: [0, 10], y: [9, 9], color: [200, 0, 200] },
      ],
    });
    expect(argmax(rowCounts(img, BLUE))).toBeGreaterThan(argmax(rowCounts(img, orange)));
    expect(argmax(rowCounts(img, orange))).toBeGreaterThan(argmax(rowCounts(img, [200, 0, 200])));
    expect(Math.max(...rowCounts(img, [200, 0, 200]))).toBeGreaterThan(0.5 * img.width);
  });

  it('places 1, 10 and 100 at equally spaced rows on a log axis', () => {
    const colors: Rgb[] = [[255, 0, 0], [0, 160, 0], [0, 0, 255]];
    const img = lineChart({
      title: 'log',
      xLabel: 'x',
      yLabel: 'y',
      logY: true,
      yMin: 0.1,
      yMax: 1000,
      series: [1, 10, 100].map((v, i) => ({ name: String(v), x: [0, 10], y: [v, v], color: colors[i]! })),
    });
    const rows = colors.map((c) => argmax(rowCounts(img, c)));
    const [r1, r10, r100] = rows as [number, number, number];
    expect(r1 - r10).toBeGreaterThan(40);
    expect(Math.abs(r1 - r10 - (r10 - r100))).toBeLessThanOrEqual(2);
    // yMin 0.1 and yMax 1000 are one decade beyond: the same spacing again to the frame.
    const plotHeight = 4 * (r1 - r10);
    expect(plotHeight).toBeGreaterThan(0.6 * img.height);
  });

  it('breaks the line at NaN and Infinity, leaving the gap empty', () => {
    const x = range(21);
    const withGap = lineChart({ title: 'gap', xLabel: 'x', yLabel: 'y', series: [{ name: 's', x, y: x.map((i) => (i === 10 ? NaN : i === 11 ? Infinity : i)) }] });
    const without = lineChart({ title: 'gap', xLabel: 'x', yLabel: 'y', series: [{ name: 's', x, y: x }] });
    const columnsWithColour = (img: RgbImage): boolean[] =>
      range(img.width).map((cx) => {
        // Only the middle half of the rows: a legend swatch may sit near the top or bottom.
        for (let y = Math.floor(img.height * 0.25); y < img.height * 0.75; y++) if (isColor(img, cx, y, BLUE)) return true;
        return false;
      });
    const longestEmptyRun = (cols: boolean[]): { length: number; centre: number } => {
      const first = cols.indexOf(true);
      const last = cols.lastIndexOf(true);
      let best = { length: 0, centre: 0 };
      let start = -1;
      for (let cx = first; cx <= last; cx++) {
        if (!cols[cx] && start < 0) start = cx;
        if (cols[cx] && start >= 0) {
          if (cx - start > best.length) best = { length: cx - start, centre: (start + cx) / 2 };
          start = -1;
        }
      }
      return best;
    };
    const gap = longestEmptyRun(columnsWithColour(withGap));
    // Points 9 and 12 stay; 10 and 11 are dropped: a gap of 3 of 20 steps minus the markers.
    expect(gap.length).toBeGreaterThan(0.1 * withGap.width);
    expect(Math.abs(gap.centre - withGap.width * 0.55)).toBeLessThan(0.06 * withGap.width);
    expect(longestEmptyRun(columnsWithColour(without)).length).toBeLessThanOrEqual(1);
  });

  it('skips non-positive values on a log axis instead of failing', () => {
    const img = lineChart({ title: 'log', xLabel: 'x', yLabel: 'y', logY: true, series: [{ name: 's', x: [0, 1, 2, 3], y: [1, 0, -5, 100] }] });
    expect(Math.max(...rowCounts(img, BLUE))).toBeGreaterThan(0);
  });

  it('rejects series whose x and y lengths differ', () => {
    expect(() => lineChart({ title: '', xLabel: '', yLabel: '', series: [{ name: 's', x: [0, 1], y: [0] }] })).toThrow(/2 x values but 1 y/);
  });
});

describe('barChart', () => {
  it('draws bars whose heights are ordered like the values', () => {
    const values = [3, 1, 2, 0.5];
    const img = barChart({ title: 'bars', yLabel: 'v', labels: ['a', 'b', 'c', 'd'], values, width: 400, height: 300 });
    expect([img.width, img.height]).toEqual([400, 300]);
    const heights = values.map((_, i) => {
      const c = DEFAULT_PALETTE[i]!;
      const columns = range(img.width).map((x) => range(img.height).filter((y) => isColor(img, x, y, c)).length);
      return Math.max(...columns);
    });
    for (const h of heights) expect(h).toBeGreaterThan(10);
    // Heights are proportional to the values (all bars start at zero).
    for (let i = 1; i < values.length; i++) expect(heights[i]! / heights[0]!).toBeCloseTo(values[i]! / values[0]!, 1);
  });

  it('grows negative bars downwards from the zero line', () => {
    const img = barChart({ title: '', yLabel: '', labels: ['up', 'down'], values: [2, -1], colors: [[255, 0, 0], [0, 0, 255]] });
    const rows = (c: Rgb): number[] => range(img.height).filter((y) => range(img.width).some((x) => isColor(img, x, y, c)));
    const up = rows([255, 0, 0]);
    const down = rows([0, 0, 255]);
    expect(Math.max(...up)).toBeLessThan(Math.min(...down));
    expect(up.length / down.length).toBeCloseTo(2, 1);
  });
});

describe('imageGrid', () => {
  const red: Rgb = [255, 0, 0];
  const blue: Rgb = [0, 0, 255];

  it('places upscaled images side by side with a white gap', () => {
    const grid = imageGrid([[solid(2, 2, red), solid(2, 2, blue)]], { scale: 2, gap: 1 });
    expect([grid.width, grid.height]).toEqual([9, 4]);
    for (let y = 0; y < 4; y++) {
      for (let x = 0; x < 9; x++) {
        const expected = x < 4 ? red : x === 4 ? [255, 255, 255] : blue;
        expect(pixel(grid, x, y), `(${x}, ${y})`).toEqual(expected);
      }
    }
  });

  it('upscales by nearest neighbour and sizes rows and columns by their largest cell', () => {
    const checker: RgbImage = { width: 2, height: 1, data: new Uint8Array([255, 0, 0, 0, 0, 255]) };
    const grid = imageGrid([[checker], [solid(1, 3, blue), solid(4, 1, red)]], { scale: 3, gap: 2 });
    // Columns: max(6, 3) = 6 and 12, plus a gap; rows: 3 and 9, plus a gap.
    expect([grid.width, grid.height]).toEqual([6 + 2 + 12, 3 + 2 + 9]);
    expect(pixel(grid, 2, 2)).toEqual(red);
    expect(pixel(grid, 3, 0)).toEqual(blue);
    expect(pixel(grid, 0, 5)).toEqual(blue); // second row starts after 3 rows + gap 2
    expect(pixel(grid, 3, 5)).toEqual([255, 255, 255]); // narrower cell: rest of its column is background
    expect(pixel(grid, 8, 5)).toEqual(red);
    expect(pixel(grid, 8, 8)).toEqual([255, 255, 255]);
  });

  it('adds a caption strip above the columns', () => {
    const plain = imageGrid([[solid(40, 10, red), solid(40, 10, blue)]]);
    const captioned = imageGrid([[solid(40, 10, red), solid(40, 10, blue)]], { captions: ['truth', 'pred'] });
    expect(captioned.width).toBe(plain.width);
    const strip = captioned.height - plain.height;
    expect(strip).toBeGreaterThanOrEqual(GLYPH_HEIGHT);
    expect(pixel(captioned, 0, strip)).toEqual(red);
    let dark = 0;
    for (let y = 0; y < strip; y++) for (let x = 0; x < 40; x++) if (pixel(captioned, x, y)[0] < 80) dark++;
    expect(dark).toBeGreaterThan(10);
  });

  it('adds a strip of row labels left of the rows, the cells moved right by its width', () => {
    const plain = imageGrid([[solid(20, 12, red)], [solid(20, 12, blue)]]);
    const labelled = imageGrid([[solid(20, 12, red)], [solid(20, 12, blue)]], { rowLabels: ['truth', 'world model'] });
    const strip = labelled.width - plain.width;
    // The longer label (11 glyphs of 6 pixels) and 4 pixels each side.
    expect(strip).toBe(11 * 6 + 8);
    expect(labelled.height).toBe(plain.height);
    expect(pixel(labelled, strip, 0)).toEqual(red);
    expect(pixel(labelled, strip, 12 + 4)).toEqual(blue);
    let dark = 0;
    for (let y = 0; y < labelled.height; y++) for (let x = 0; x < strip; x++) if (pixel(labelled, x, y)[0] < 80) dark++;
    expect(dark).toBeGreaterThan(20);
  });

  it('rejects a non-integer scale and images whose data does not match their size', () => {
    expect(() => imageGrid([[solid(1, 1, red)]], { scale: 1.5 })).toThrow(/positive integer/);
    expect(() => imageGrid([[{ width: 2, height: 2, data: new Uint8Array(3) }]])).toThrow(/needs 12 bytes/);
  });
});

describe('golden line chart', () => {
  it('matches test/goldens/report/line-chart.png exactly', () => {
    const file = join(REPORT_GOLDEN_DIR, LINE_CHART_GOLDEN);
    // A missing golden is a failure, never silently recreated: regenerate with npm run goldens and review it.
    expect(existsSync(file), `${file} is missing; run npm run goldens and review the image`).toBe(true);
    const golden = PNG.sync.read(readFileSync(file));
    const chart = lineChart(goldenLineChartOptions());
    expect([chart.width, chart.height]).toEqual([golden.width, golden.height]);
    // Round-trip through the repo's encoder too, so the bytes we would ship decode to the same picture.
    const decoded = PNG.sync.read(Buffer.from(encodePng(chart.width, chart.height, chart.data)));
    let differing = 0;
    for (let i = 0; i < chart.width * chart.height; i++) {
      for (let c = 0; c < 3; c++) {
        if (decoded.data[4 * i + c] !== chart.data[3 * i + c] || golden.data[4 * i + c] !== chart.data[3 * i + c]) {
          differing++;
          break;
        }
      }
    }
    expect(differing, `${differing} pixels differ from the golden; if intended, run npm run goldens`).toBe(0);
  });
});

describe('bar labels wrap onto two lines before they are cut', () => {
  // Scale 1: 6 pixels a glyph, so 60 pixels hold 10 characters.
  it('breaks at spaces, keeps short labels whole and cuts only what two lines cannot hold', () => {
    expect(wrapText('probe R2 model', 60, 1, 2)).toBe('probe R2\nmodel');
    expect(wrapText('CKA PCA', 60, 1, 2)).toBe('CKA PCA');
    expect(wrapText('inverse-dynamics R2 of the model', 60, 1, 2)).toBe('inverse-d.\nR2 of the.');
  });
});

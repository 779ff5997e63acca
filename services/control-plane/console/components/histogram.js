/** Bytes over time as an inline SVG bar chart (no chart library). */
import { svg } from '../dom.js';
import { bytes, time } from '../format.js';

const H = 180;
const PAD = { left: 56, right: 8, top: 8, bottom: 22 };

/**
 * The axis' top: 1, 2 or 5 × a power of ten of the unit the labels are in (B, KB = 1024 B, MB …), at
 * least 2 B, so that it and its half read as round, different numbers: 2 B / 1 B, 50 KB / 25 KB.
 * @param {number} v
 */
export function niceCeil(v) {
  const unit = 1024 ** Math.min(4, Math.floor(Math.log(Math.max(v, 1)) / Math.log(1024)));
  const power = 10 ** Math.floor(Math.log10(Math.max(v / unit, 1)));
  return Math.max(2, unit * ([1, 2, 5, 10].map((m) => m * power).find((n) => unit * n >= v) ?? 10 * power));
}

/**
 * Drawn at `width` user units, the width of its container, so that text keeps its size; the SVG
 * scales with the container after that.
 * @param {{step: number, buckets: {start: number, bytes: number, packets: number, flows: number}[]}} data
 * @param {number} [width]
 * @returns {SVGElement}
 */
export function histogram({ step, buckets }, width = 600) {
  const W = Math.max(300, Math.round(width));
  const max = niceCeil(Math.max(0, ...buckets.map((b) => b.bytes)));
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const barW = plotW / Math.max(1, buckets.length);
  const y = (/** @type {number} */ v) => PAD.top + plotH - (v / max) * plotH;

  const grid = [0, 0.5, 1].map((f) => [
    svg('line', { x1: PAD.left, x2: W - PAD.right, y1: y(max * f), y2: y(max * f), class: 'grid' }),
    svg(
      'text',
      { x: PAD.left - 6, y: y(max * f) + 4, 'text-anchor': 'end', class: 'axis' },
      bytes(Math.round(max * f)),
    ),
  ]);
  const bars = buckets.map((b, i) => {
    const top = y(b.bytes);
    return svg(
      'rect',
      {
        x: PAD.left + i * barW + 0.5,
        y: top,
        width: Math.max(1, barW - 1),
        height: PAD.top + plotH - top,
        class: 'bar',
      },
      svg(
        'title',
        {},
        `${time(b.start)}–${time(b.start + step)}: ${bytes(b.bytes)}, ${b.packets} packets, ${b.flows} flows`,
      ),
    );
  });
  const labels = buckets.length
    ? [0, Math.floor(buckets.length / 2), buckets.length - 1].map((i, n) =>
        svg(
          'text',
          {
            x: PAD.left + i * barW + (n === 2 ? barW : 0),
            y: H - 6,
            'text-anchor': ['start', 'middle', 'end'][n],
            class: 'axis',
          },
          time(n === 2 ? buckets[i].start + step : buckets[i].start),
        ),
      )
    : [];
  return svg(
    'svg',
    { viewBox: `0 0 ${W} ${H}`, class: 'histogram', role: 'img', 'aria-label': 'Bytes over time' },
    grid,
    bars,
    labels,
  );
}

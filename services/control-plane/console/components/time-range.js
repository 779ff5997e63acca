/** The time range picker: last 5 min / 15 min / 1 h / 24 h, or a custom from–to. */
import { h, select } from '../dom.js';

export const PRESETS = /** @type {const} */ ({
  '5m': ['Last 5 min', 300],
  '15m': ['Last 15 min', 900],
  '1h': ['Last 1 h', 3600],
  '24h': ['Last 24 h', 86400],
});

const pad = (/** @type {number} */ n) => String(n).padStart(2, '0');
/** Unix seconds → the value of a datetime-local input (local time). @param {number} s */
const localInput = (s) => {
  const d = new Date(s * 1000);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
};

/**
 * @param {{range: string, from?: number, to?: number, onChange(): void}} initial  range: a preset key or "custom"
 * @returns {{el: HTMLElement, value(): {range: string, from: number, to: number}}}
 */
export function timeRange({ range, from, to, onChange }) {
  const now = Math.floor(Date.now() / 1000);
  const preset = select(
    { id: 'time-range', 'aria-label': 'Time range' },
    [
      ...Object.entries(PRESETS).map(([k, [label]]) => /** @type {[string, string]} */ ([k, label])),
      ['custom', 'Custom…'],
    ],
    range in PRESETS || range === 'custom' ? range : '15m',
  );
  const fromInput = /** @type {HTMLInputElement} */ (
    h('input', { type: 'datetime-local', id: 'time-from', 'aria-label': 'From', value: localInput(from ?? now - 3600) })
  );
  const toInput = /** @type {HTMLInputElement} */ (
    h('input', { type: 'datetime-local', id: 'time-to', 'aria-label': 'To', value: localInput(to ?? now) })
  );
  const custom = h(
    'span',
    { class: 'custom-range', hidden: preset.value !== 'custom' },
    fromInput,
    h('span', { text: '–' }),
    toInput,
  );
  preset.addEventListener('change', () => {
    custom.hidden = preset.value !== 'custom';
    onChange();
  });
  fromInput.addEventListener('change', onChange);
  toInput.addEventListener('change', onChange);

  return {
    el: h('span', { class: 'time-range' }, preset, custom),
    value() {
      if (preset.value === 'custom') {
        const seconds = (/** @type {HTMLInputElement} */ i) => Math.floor(new Date(i.value).getTime() / 1000);
        return { range: 'custom', from: seconds(fromInput), to: seconds(toInput) };
      }
      const t = Math.floor(Date.now() / 1000);
      return { range: preset.value, from: t - PRESETS[/** @type {keyof PRESETS} */ (preset.value)][1], to: t };
    },
  };
}

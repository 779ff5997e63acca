/** The analysis panels' contents: top talkers as bar lists, and the accept/reject split. */
import { h } from '../dom.js';
import { bytes, count } from '../format.js';

/**
 * Keys ranked by bytes, each with a bar proportional to the first.
 * @param {{key: string | number | null, bytes: number, packets: number, flows: number}[]} items
 */
export function topList(items) {
  if (!items.length) return h('p', { class: 'muted', text: 'No traffic.' });
  const max = Math.max(1, ...items.map((i) => i.bytes));
  return h(
    'ol',
    { class: 'top-list' },
    items.map((i) => {
      const bar = h('span', { class: 'bar' });
      bar.style.width = `${(i.bytes / max) * 100}%`;
      return h(
        'li',
        { title: `${count(i.packets)} packets, ${count(i.flows)} flows` },
        h('span', { class: 'key mono', text: i.key ?? '-' }),
        h('span', { class: 'value', text: bytes(i.bytes) }),
        h('span', { class: 'track' }, bar),
      );
    }),
  );
}

/**
 * ACCEPT against REJECT: a split bar by bytes and the totals of each.
 * @param {Record<'ACCEPT' | 'REJECT', {bytes: number, packets: number, flows: number}>} totals
 */
export function actionSplit(totals) {
  const all = totals.ACCEPT.bytes + totals.REJECT.bytes;
  const share = (/** @type {number} */ b) => (all ? (b / all) * 100 : 0);
  const accept = h('span', { class: 'seg-accept' });
  const reject = h('span', { class: 'seg-reject' });
  accept.style.width = `${share(totals.ACCEPT.bytes)}%`;
  reject.style.width = `${share(totals.REJECT.bytes)}%`;
  const line = (/** @type {'ACCEPT' | 'REJECT'} */ a) =>
    h(
      'tr',
      { class: a.toLowerCase() },
      h('th', { text: a }),
      h('td', { text: `${share(totals[a].bytes).toFixed(1)} %` }),
      h('td', { text: bytes(totals[a].bytes) }),
      h('td', { text: `${count(totals[a].packets)} pkts` }),
      h('td', { text: `${count(totals[a].flows)} flows` }),
    );
  return h(
    'div',
    { class: 'actions-split' },
    h(
      'div',
      { class: 'split', role: 'img', 'aria-label': `ACCEPT ${share(totals.ACCEPT.bytes).toFixed(0)} % of bytes` },
      accept,
      reject,
    ),
    h('table', {}, h('tbody', {}, line('ACCEPT'), line('REJECT'))),
  );
}

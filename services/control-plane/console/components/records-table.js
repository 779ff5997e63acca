/**
 * The results table: the design's record fields, sortable by start, bytes and packets (a click on the
 * header), with records from the live tail added at the top.
 */
import { h, replace } from '../dom.js';
import { count, dateTime, protocol } from '../format.js';

/** [header, value of a record, sort key]. */
const COLUMNS = /** @type {[string, (r: any) => any, string?][]} */ ([
  ['start', (r) => dateTime(r.start), 'start'],
  ['end', (r) => dateTime(r.end)],
  ['interface-id', (r) => r.interfaceId],
  ['srcaddr', (r) => r.srcaddr],
  ['srcport', (r) => r.srcport],
  ['dstaddr', (r) => r.dstaddr],
  ['dstport', (r) => r.dstport],
  ['protocol', (r) => protocol(r.protocol)],
  ['packets', (r) => count(r.packets), 'packets'],
  ['bytes', (r) => count(r.bytes), 'bytes'],
  ['action', (r) => r.action],
  ['log-status', (r) => r.logStatus],
  ['account-id', (r) => r.accountId],
  ['version', (r) => r.version],
]);

const MAX_TAILED = 500;

/**
 * @param {{sort: string, onSort(sort: string): void}} o  sort: start|-start|bytes|-bytes|packets|-packets
 */
export function recordsTable({ sort, onSort }) {
  const body = h('tbody');
  const head = h('tr');
  const el = h('div', { class: 'table-wrap' }, h('table', { class: 'records' }, h('thead', {}, head), body));

  function header() {
    replace(head, COLUMNS.map(([label, , key]) => {
      if (!key) return h('th', { text: label });
      const active = sort.replace('-', '') === key;
      const arrow = active ? (sort.startsWith('-') ? ' ↓' : ' ↑') : '';
      // Start first goes newest first; bytes and packets biggest first; a second click reverses.
      const next = active ? (sort.startsWith('-') ? key : `-${key}`) : `-${key}`;
      return h('th', { class: `sortable${active ? ' active' : ''}`, 'aria-sort': active ? (sort.startsWith('-') ? 'descending' : 'ascending') : 'none' },
        h('button', { type: 'button', class: 'sort', dataset: { sort: key }, text: label + arrow, onclick: () => { sort = next; header(); onSort(next); } }));
    }));
  }

  /** @param {any} r */
  const row = (r) => h('tr', { class: r.action === 'REJECT' ? 'reject' : undefined }, COLUMNS.map(([label, value]) => h('td', { 'data-label': label, text: value(r) ?? '-' })));

  header();
  return {
    el,
    /** @param {any[]} records @param {string} [empty] what to say when there are none */
    show(records, empty = 'No records in this time range match.') {
      replace(body, records.length ? records.map(row) : h('tr', {}, h('td', { class: 'empty', colspan: COLUMNS.length, text: empty })));
    },
    /** A tailed record, at the top. @param {any} r */
    prepend(r) {
      body.querySelector('td.empty')?.parentElement?.remove();
      const tr = row(r);
      tr.classList.add('tailed');
      body.prepend(tr);
      while (body.children.length > MAX_TAILED) body.lastElementChild?.remove();
    },
  };
}

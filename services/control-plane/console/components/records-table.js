/**
 * The results table: the record fields the server's field table gives a console column (GET /v1/fields),
 * sortable where the column says so (a click on the header), with records from the live tail added at the top.
 */
import { api } from '../api.js';
import { h, replace } from '../dom.js';
import { count, dateTime, protocol } from '../format.js';

/** @typedef {{name: string, key: string, console: {rank: number, display: 'text'|'time'|'count'|'protocol', sort?: string} | null}} FieldInfo */
/** @typedef {[label: string, value: (r: any) => any, sort?: string]} Column */

/** @type {Record<string, (v: any) => any>} */
const DISPLAY = { text: (v) => v, time: dateTime, count, protocol };

/** The columns, fetched once per page load (again after a failure). @type {Promise<Column[]> | undefined} */
let columns;

/** @returns {Promise<Column[]>} */
function loadColumns() {
  columns ??= api('GET', '/v1/fields').then(
    (/** @type {{fields: FieldInfo[]}} */ { fields }) => fields.flatMap((f) => (f.console ? [{ ...f, console: f.console }] : []))
      .sort((a, b) => a.console.rank - b.console.rank)
      .map((f) => /** @type {Column} */ ([f.name, (r) => DISPLAY[f.console.display](r[f.key]), f.console.sort])),
    (err) => { columns = undefined; throw err; },
  );
  return columns;
}

const MAX_TAILED = 500;

/**
 * @param {{sort: string, onSort(sort: string): void}} o  sort: start|-start|bytes|-bytes|packets|-packets
 */
export function recordsTable({ sort, onSort }) {
  const body = h('tbody');
  const head = h('tr');
  const el = h('div', { class: 'table-wrap' }, h('table', { class: 'records' }, h('thead', {}, head), body));
  /** @type {Column[]} */
  let cols = [];

  function header() {
    replace(head, cols.map(([label, , key]) => {
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
  const row = (r) => h('tr', { class: r.action === 'REJECT' ? 'reject' : undefined }, cols.map(([label, value]) => h('td', { 'data-label': label, text: value(r) ?? '-' })));

  /** Runs `draw` once the columns are known, in call order; a failure to load them shows in the table. @param {() => void} draw */
  const withColumns = (draw) => loadColumns().then((c) => {
    if (cols !== c) { cols = c; header(); }
    draw();
  }, (err) => replace(body, h('tr', {}, h('td', { class: 'empty', text: `The record fields could not be loaded: ${err.message}` }))));

  void withColumns(() => {});
  return {
    el,
    /** @param {any[]} records @param {string} [empty] what to say when there are none */
    show(records, empty = 'No records in this time range match.') {
      void withColumns(() => replace(body, records.length ? records.map(row) : h('tr', {}, h('td', { class: 'empty', colspan: cols.length, text: empty }))));
    },
    /** A tailed record, at the top. @param {any} r */
    prepend(r) {
      void withColumns(() => {
        body.querySelector('td.empty')?.parentElement?.remove();
        const tr = row(r);
        tr.classList.add('tailed');
        body.prepend(tr);
        while (body.children.length > MAX_TAILED) body.lastElementChild?.remove();
      });
    },
  };
}

/**
 * The results table: the record fields the server's field table gives a console column (GET /v1/fields),
 * sortable where the column says so (a click on the header), with records from the live tail added at the top.
 * A column that only tells something when it differs from another field (pkt-srcaddr from srcaddr) is
 * shown while a record of the table has it differ.
 */
import { api } from '../api.js';
import { h, replace } from '../dom.js';
import { count, dateTime, protocol } from '../format.js';

/**
 * @typedef {{rank: number, display: 'text'|'time'|'count'|'protocol', sort?: string, unlessSameAs?: string}} ConsoleColumn
 * @typedef {{name: string, key: string, console: ConsoleColumn | null}} FieldInfo
 * @typedef {{label: string, key: string, value: (r: any) => any, sort?: string, unlessSameAs?: string}} Column
 */

/** @type {Record<string, (v: any) => any>} */
const DISPLAY = { text: (v) => v, time: dateTime, count, protocol };

/** The columns, fetched once per page load (again after a failure). @type {Promise<Column[]> | undefined} */
let columns;

/** @returns {Promise<Column[]>} */
function loadColumns() {
  columns ??= api('GET', '/v1/fields').then(
    (/** @type {{fields: FieldInfo[]}} */ { fields }) =>
      fields
        .flatMap((f) => {
          const c = f.console;
          if (!c) return [];
          const value = (/** @type {any} */ r) => DISPLAY[c.display](r[f.key]);
          return [{ label: f.name, key: f.key, rank: c.rank, value, sort: c.sort, unlessSameAs: c.unlessSameAs }];
        })
        .sort((a, b) => a.rank - b.rank),
    (err) => {
      columns = undefined;
      throw err;
    },
  );
  return columns;
}

const MAX_TAILED = 500;

/** Whether a column tells something for one of `records`. @param {Column} c @param {any[]} records */
const telling = (c, records) => {
  const other = c.unlessSameAs;
  return !other || records.some((r) => r[c.key] != null && r[c.key] !== r[other]);
};

/**
 * @param {{sort: string, onSort(sort: string): void}} o  sort: start|-start|bytes|-bytes|packets|-packets
 */
export function recordsTable({ sort, onSort }) {
  const body = h('tbody');
  const head = h('tr');
  const el = h('div', { class: 'table-wrap' }, h('table', { class: 'records' }, h('thead', {}, head), body));
  /** All columns, and those shown for the records in the table. @type {Column[]} */
  let all = [];
  /** @type {Column[]} */
  let cols = [];
  /** The records in the table, tailed ones first. @type {{r: any, tailed: boolean}[]} */
  let rows = [];
  let empty = '';

  function header() {
    replace(
      head,
      cols.map(({ label, sort: key }) => {
        if (!key) return h('th', { text: label });
        const active = sort.replace('-', '') === key;
        const arrow = active ? (sort.startsWith('-') ? ' ↓' : ' ↑') : '';
        // Start first goes newest first; bytes and packets biggest first; a second click reverses.
        const next = active ? (sort.startsWith('-') ? key : `-${key}`) : `-${key}`;
        return h(
          'th',
          {
            class: `sortable${active ? ' active' : ''}`,
            'aria-sort': active ? (sort.startsWith('-') ? 'descending' : 'ascending') : 'none',
          },
          h('button', {
            type: 'button',
            class: 'sort',
            dataset: { sort: key },
            text: label + arrow,
            onclick: () => {
              sort = next;
              header();
              onSort(next);
            },
          }),
        );
      }),
    );
  }

  /** @param {{r: any, tailed: boolean}} row */
  const tr = ({ r, tailed }) => {
    const cls = [r.action === 'REJECT' ? 'reject' : '', tailed ? 'tailed' : ''].join(' ').trim();
    return h(
      'tr',
      { class: cls || undefined },
      cols.map(({ label, value }) => h('td', { 'data-label': label, text: value(r) ?? '-' })),
    );
  };

  /** Chooses the columns for the rows and draws the whole table. */
  function draw() {
    const records = rows.map((x) => x.r);
    cols = all.filter((c) => telling(c, records));
    header();
    replace(
      body,
      rows.length ? rows.map(tr) : h('tr', {}, h('td', { class: 'empty', colspan: cols.length, text: empty })),
    );
  }

  /** Runs `then` once the columns are known, in call order; a failure to load them shows in the table. @param {() => void} then */
  const withColumns = (then) =>
    loadColumns().then(
      (c) => {
        all = c;
        then();
      },
      (err) =>
        replace(
          body,
          h('tr', {}, h('td', { class: 'empty', text: `The record fields could not be loaded: ${err.message}` })),
        ),
    );

  void withColumns(() => {
    cols = all.filter((c) => !c.unlessSameAs);
    header();
  });
  return {
    el,
    /** @param {any[]} records @param {string} [none] what to say when there are none */
    show(records, none = 'No records in this time range match.') {
      void withColumns(() => {
        rows = records.map((r) => ({ r, tailed: false }));
        empty = none;
        draw();
      });
    },
    /** A tailed record, at the top. @param {any} r */
    prepend(r) {
      void withColumns(() => {
        const row = { r, tailed: true };
        rows.unshift(row);
        if (rows.length > MAX_TAILED) rows.length = MAX_TAILED;
        if (rows.length === 1 || all.some((c) => !cols.includes(c) && telling(c, [r]))) return draw();
        body.prepend(tr(row));
        while (body.children.length > MAX_TAILED) body.lastElementChild?.remove();
      });
    },
  };
}

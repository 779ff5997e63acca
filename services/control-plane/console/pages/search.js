/**
 * Search Analysis of one log topic (#/search/<logTopicId>?flowLog=&range=&from=&to=&q=&sort=): time
 * range, query, results (sortable, paged by cursor), bytes over time, top talkers, accept/reject,
 * live tail and export. A panel whose endpoint answers 404 (not on this server) is hidden.
 */
import { ApiError, api, isMissingRoute, request } from '../api.js';
import { actionSplit, topList } from '../components/analysis.js';
import { histogram } from '../components/histogram.js';
import { recordsTable } from '../components/records-table.js';
import { tail } from '../components/tail.js';
import { timeRange } from '../components/time-range.js';
import { h, replace } from '../dom.js';
import { ago, count, logFormat } from '../format.js';

const PAGE_SIZE = 50;
const QUERY_HINT = 'An IP or CIDR, field:value, dstport:[1 TO 1024], bytes:>1000, AND / OR / NOT, (…)';

/** @param {HTMLElement} root @param {{id?: string, query: URLSearchParams}} params */
export function render(root, { id, query }) {
  const topicId = /** @type {string} */ (id);
  const base = `/v1/log-topics/${encodeURIComponent(topicId)}`;
  const flowLogId = query.get('flowLog');
  let sort = query.get('sort') || '-start';
  /** Cursors of the pages before the current one, and the current one's. */
  let cursors = /** @type {(string | undefined)[]} */ ([]);
  let cursor = /** @type {string | undefined} */ (undefined);
  let nextCursor = /** @type {string | null} */ (null);
  let tailing = /** @type {AbortController | null} */ (null);
  /** Requests in flight, aborted by newer ones so that an old answer never replaces a newer one. */
  let paging = new AbortController();
  let analysing = new AbortController();
  const hidden = new Set(/** @type {string[]} */ ([]));
  /** What the status says of the page shown, and how many records the live tail added since. */
  let pageStatus = '';
  let tailed = 0;
  /** A refresh of the panels after tailed records, at most one a second. */
  let refreshing = /** @type {ReturnType<typeof setTimeout> | undefined} */ (undefined);

  const range = timeRange({
    range: query.get('range') || '15m',
    from: num(query.get('from')),
    to: num(query.get('to')),
    onChange: () => search(),
  });
  const q = /** @type {HTMLInputElement} */ (
    h('input', {
      id: 'q',
      type: 'search',
      name: 'q',
      value: query.get('q') ?? '',
      placeholder: 'Search: 10.0.1.20, dstport:443, action:REJECT …',
      title: QUERY_HINT,
      'aria-label': 'Search query',
      autocomplete: 'off',
      spellcheck: 'false',
    })
  );
  const qError = h('p', { class: 'field-error', id: 'q-error', role: 'alert' });
  // A mistake's message goes as the query is edited: it was about the query as it was.
  q.addEventListener('input', () => {
    qError.textContent = '';
    q.classList.remove('invalid');
  });
  const title = h('p', { class: 'muted subtitle', text: topicId });
  const health = h('p', { class: 'health', id: 'health', hidden: true });
  const status = h('span', { class: 'muted', id: 'result-status' });
  const table = recordsTable({
    sort,
    onSort: (s) => {
      sort = s;
      search();
    },
  });
  const prev = /** @type {HTMLButtonElement} */ (
    h('button', {
      type: 'button',
      id: 'prev-page',
      text: '‹ Previous',
      disabled: true,
      onclick: () => {
        cursor = cursors.pop();
        page();
      },
    })
  );
  const next = /** @type {HTMLButtonElement} */ (
    h('button', {
      type: 'button',
      id: 'next-page',
      text: 'Next ›',
      disabled: true,
      onclick: () => {
        cursors.push(cursor);
        cursor = nextCursor ?? undefined;
        page();
      },
    })
  );
  const pageNo = h('span', { class: 'muted', id: 'page-number' });
  const tailToggle = /** @type {HTMLInputElement} */ (
    h('input', { type: 'checkbox', id: 'live-tail', onchange: () => (tailToggle.checked ? startTail() : stopTail()) })
  );
  // Offered once the log topic turns out to be a JSON one: the API tails no other format.
  const tailLabel = h(
    'label',
    { class: 'switch', for: 'live-tail', hidden: true },
    tailToggle,
    h('span', { text: 'Live tail' }),
  );
  const tailNote = h('span', { class: 'muted', id: 'tail-note' });
  const exportError = h('span', { class: 'field-error' });

  /** A panel that disappears for good once its endpoint answers 404. @param {string} key @param {string} heading @param {string} [cls] */
  const panel = (key, heading, cls = '') => {
    const content = h('div', { class: 'panel-body' }, h('p', { class: 'muted', text: 'Loading…' }));
    const el = h('section', { class: `card panel ${cls}`, id: `panel-${key}` }, h('h2', { text: heading }), content);
    return { key, el, content };
  };
  const panels = {
    histogram: panel('histogram', 'Bytes over time', 'wide'),
    src: panel('top-src', 'Top sources by bytes'),
    dst: panel('top-dst', 'Top destinations by bytes'),
    actions: panel('actions', 'Accept / reject'),
  };

  root.append(
    h(
      'div',
      { class: 'page-head' },
      h(
        'div',
        {},
        h('a', { href: '#/flow-logs', class: 'back', text: '← Flow Logs' }),
        h('h1', { text: 'Search Analysis' }),
        title,
        health,
      ),
    ),
    h(
      'form',
      {
        class: 'card search-bar',
        role: 'search',
        onsubmit: (/** @type {Event} */ e) => {
          e.preventDefault();
          search();
        },
      },
      range.el,
      h('span', { class: 'q' }, q, qError),
      h('button', { type: 'submit', class: 'primary', id: 'search', text: 'Search' }),
    ),
    h(
      'div',
      { class: 'tools' },
      tailLabel,
      tailNote,
      h('span', { class: 'spacer' }),
      h('span', { class: 'muted', text: 'Export:' }),
      ['ndjson', 'csv', 'text'].map((format) =>
        h('button', {
          type: 'button',
          class: 'small',
          id: `export-${format}`,
          text: format === 'ndjson' ? 'NDJSON' : format.toUpperCase(),
          onclick: () => download(format),
        }),
      ),
      exportError,
    ),
    h(
      'div',
      { class: 'panels' },
      Object.values(panels).map((p) => p.el),
    ),
    h(
      'section',
      { class: 'card results' },
      h('div', { class: 'results-head' }, h('h2', { text: 'Records' }), status),
      table.el,
      h('div', { class: 'pager' }, prev, pageNo, next),
    ),
  );

  /** The request's range and query, as the API takes them. */
  const scope = () => {
    const r = range.value();
    return { from: r.from, to: r.to, q: q.value.trim() || undefined };
  };

  /** Keeps the state in the address (bookmarkable, survives a reload) without re-rendering. */
  function remember() {
    const r = range.value();
    const p = new URLSearchParams();
    if (flowLogId) p.set('flowLog', flowLogId);
    p.set('range', r.range);
    if (r.range === 'custom') {
      p.set('from', String(r.from));
      p.set('to', String(r.to));
    }
    if (q.value.trim()) p.set('q', q.value.trim());
    if (sort !== '-start') p.set('sort', sort);
    history.replaceState(null, '', `#/search/${topicId}?${p}`);
  }

  /** A new search: first page, the panels, the tail with the new query. */
  function search() {
    cursors = [];
    cursor = undefined;
    remember();
    analysing.abort();
    const { signal } = (analysing = new AbortController());
    void page().then((ok) => {
      if (!ok || signal.aborted) return;
      void analyse(signal);
      if (tailing) startTail();
    });
    void loadHealth();
  }

  /** The current page of records; false when the search itself was refused. */
  async function page() {
    paging.abort();
    const { signal } = (paging = new AbortController());
    qError.textContent = '';
    q.classList.remove('invalid');
    status.textContent = 'Searching…';
    try {
      const res = await api('GET', `${base}/records`, {
        query: { ...scope(), sort, limit: PAGE_SIZE, cursor },
        signal,
      });
      nextCursor = res.nextCursor;
      table.show(res.records);
      pageStatus = `${res.records.length ? `${count(cursors.length * PAGE_SIZE + 1)}–${count(cursors.length * PAGE_SIZE + res.records.length)}` : 'No records'}${res.nextCursor ? ' (more on the next page)' : ''}`;
      tailed = 0;
      status.textContent = pageStatus;
      pageNo.textContent = `Page ${cursors.length + 1}`;
      prev.disabled = !cursors.length;
      next.disabled = !nextCursor;
      return true;
    } catch (err) {
      if (signal.aborted) return false;
      const missing = err instanceof ApiError && err.status === 404;
      if (err instanceof ApiError && err.status === 400) {
        // "q: expected a value after 'dstport:' at 8" and the like, under the search bar.
        qError.textContent =
          Object.entries(err.fields)
            .map(([path, m]) => (path === 'q' ? m : `${path}: ${m}`))
            .join('; ') || err.message;
        q.classList.add('invalid');
        status.textContent = '';
      } else {
        status.textContent = missing
          ? `Not found: ${/** @type {Error} */ (err).message}.`
          : `Search failed: ${/** @type {Error} */ (err).message}`;
      }
      // Nothing of an earlier search stays: the panels say why there is nothing.
      const why = missing
        ? 'Log topic not found.'
        : err instanceof ApiError && err.status === 400
          ? 'No results: correct the query.'
          : 'No results: the search failed.';
      table.show([], why);
      for (const p of Object.values(panels)) replace(p.content, h('p', { class: 'muted', text: why }));
      return false;
    }
  }

  /** @param {AbortSignal} signal */
  async function analyse(signal) {
    const s = scope();
    await Promise.all([
      fill(
        panels.histogram,
        () => api('GET', `${base}/analysis/histogram`, { query: { ...s, buckets: 60 }, signal }),
        (d) =>
          d.buckets.some((/** @type {{bytes: number}} */ b) => b.bytes > 0)
            ? histogram(d, panels.histogram.content.clientWidth)
            : h('p', { class: 'muted', text: 'No traffic.' }),
      ),
      fill(
        panels.src,
        () =>
          api('GET', `${base}/analysis/top`, { query: { ...s, by: 'srcaddr', metric: 'bytes', limit: 10 }, signal }),
        (d) => topList(d.items),
      ),
      fill(
        panels.dst,
        () =>
          api('GET', `${base}/analysis/top`, { query: { ...s, by: 'dstaddr', metric: 'bytes', limit: 10 }, signal }),
        (d) => topList(d.items),
      ),
      fill(panels.actions, () => api('GET', `${base}/analysis/actions`, { query: s, signal }), actionSplit),
    ]);
  }

  /**
   * @param {{key: string, el: HTMLElement, content: HTMLElement}} p
   * @param {() => Promise<any>} load
   * @param {(data: any) => Node} draw
   */
  async function fill(p, load, draw) {
    if (hidden.has(p.key)) return;
    try {
      replace(p.content, draw(await load()));
    } catch (err) {
      if (/** @type {Error} */ (err).name === 'AbortError') return; // a newer search draws it
      if (isMissingRoute(err)) {
        hidden.add(p.key);
        p.el.hidden = true;
      } else replace(p.content, h('p', { class: 'field-error', text: /** @type {Error} */ (err).message }));
    }
  }

  async function loadHealth() {
    if (!flowLogId || hidden.has('health')) return;
    try {
      const [flowLog, hl] = await Promise.all([
        api('GET', `/v1/flow-logs/${flowLogId}`),
        api('GET', `/v1/flow-logs/${flowLogId}/health`),
      ]);
      replace(
        health,
        h('strong', { text: flowLog.name }),
        ' · ',
        hl.lastRecordAt ? `last record ${ago(hl.lastRecordAt)}` : 'no records yet',
        ' · ',
        `${hl.recordsPerMinute.toFixed(1)} records/min`,
        ' · ',
        h('span', {
          class: hl.skipdata.records ? 'warn' : '',
          text: `SKIPDATA ${count(hl.skipdata.records)} (${count(hl.skipdata.packets)} packets)`,
        }),
        ' · ',
        `NODATA ${count(hl.nodata)}`,
        ' in the last hour',
      );
      health.hidden = false;
    } catch (err) {
      if (isMissingRoute(err)) hidden.add('health');
      health.hidden = true;
    }
  }

  function startTail() {
    tailing?.abort();
    const controller = (tailing = new AbortController());
    tailNote.textContent = 'Connecting…';
    tail(topicId, scope().q ?? '', controller.signal, tailedRecord, () => {
      tailNote.textContent = 'Live: new records appear at the top.';
    })
      .then(() => {
        if (tailing === controller) stopTail('The tail ended; switch it on again to resume.');
      })
      .catch((err) => {
        if (tailing !== controller) return;
        if (isMissingRoute(err)) tailLabel.hidden = true;
        stopTail(isMissingRoute(err) ? '' : `Live tail: ${err.message}`);
      });
  }

  /** A record from the live tail: at the top of the table, counted in the status, and in the panels soon after. @param {any} r */
  function tailedRecord(r) {
    table.prepend(r);
    tailed++;
    status.textContent = `${pageStatus === 'No records' ? '' : `${pageStatus} · `}${count(tailed)} new from the live tail`;
    refreshing ??= setTimeout(() => {
      refreshing = undefined;
      analysing.abort();
      void analyse((analysing = new AbortController()).signal);
    }, 1000);
  }

  /** @param {string} [note] */
  function stopTail(note = '') {
    tailing?.abort();
    tailing = null;
    tailToggle.checked = false;
    tailNote.textContent = note;
  }

  /** An export of the whole result (the API caps it), saved as the file the API names. @param {string} format */
  async function download(format) {
    exportError.textContent = '';
    try {
      const res = await request('GET', `${base}/records`, { query: { ...scope(), sort, format } });
      const name = res.headers.get('content-disposition')?.match(/filename="([^"]+)"/)?.[1] ?? `${topicId}.${format}`;
      const url = URL.createObjectURL(await res.blob());
      const a = h('a', { href: url, download: name, hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
      if (res.headers.get('x-flowlogs-truncated') === 'true')
        exportError.textContent = 'The export holds the first 100,000 records only.';
    } catch (err) {
      exportError.textContent = `Export failed: ${/** @type {Error} */ (err).message}`;
    }
  }

  void api('GET', `/v1/log-topics/${encodeURIComponent(topicId)}`)
    .then((t) => {
      title.textContent = `Log topic ${t.name} · ${t.id} · ${logFormat(t.format)}`;
      if (t.format === 'json') tailLabel.hidden = false;
      else tailNote.textContent = 'Live tail is for json log topics only.';
    })
    .catch(() => {
      title.textContent = `Log topic ${topicId} (not found)`;
    });
  search();
  return () => {
    clearTimeout(refreshing);
    paging.abort();
    analysing.abort();
    stopTail();
  };
}

/** @param {string | null} s */
const num = (s) => (s ? Number(s) : undefined);

/** Flow Logs: the account's flow logs, their operations, and +New (the create dialog). */
import { api, list, session } from '../api.js';
import { confirmDialog } from '../components/confirm.js';
import { openCreateDialog } from '../components/flow-log-dialog.js';
import { h, replace } from '../dom.js';
import { READ_ONLY, RESOURCE_TYPES, created, interval } from '../format.js';

const COLUMNS = [
  'Name / ID',
  'Collection range',
  'Collection type',
  'Log topic',
  'Interval',
  'Status',
  'Tags',
  'Created',
  'Operation',
];

/** What an empty list says: the next step. @param {number} enis how many ENIs the account has */
function empty(enis) {
  if (!session.canWrite) return `No flow logs yet. ${READ_ONLY}`;
  if (enis) return 'No flow logs yet. Choose +New to create one.';
  return [
    'No flow logs yet. A flow log records the traffic of an ENI, a subnet or a VPC: first ',
    h('a', { href: '#/vpcs', text: 'create a VPC' }),
    ', a subnet and an ',
    h('a', { href: '#/network-interfaces', text: 'ENI' }),
    ' (or run a capture agent, which registers its ENIs), then choose +New.',
  ];
}

/** @param {HTMLElement} root */
export function render(root) {
  const body = h('tbody');
  const notice = h('p', { class: 'notice', role: 'status', hidden: true });
  root.append(
    h(
      'div',
      { class: 'page-head' },
      h('h1', { text: 'Flow Logs' }),
      h(
        'div',
        { class: 'toolbar' },
        h('button', {
          class: 'primary write',
          type: 'button',
          id: 'new-flow-log',
          text: '+New',
          onclick: () =>
            openCreateDialog({ onCreated }).catch((err) => say(`Could not open the dialog: ${err.message}`)),
        }),
        h('button', { type: 'button', text: 'Refresh', onclick: () => load() }),
      ),
    ),
    notice,
    h(
      'div',
      { class: 'card table-wrap' },
      h(
        'table',
        { class: 'list flow-logs' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            COLUMNS.map((c) => h('th', { text: c })),
          ),
        ),
        body,
      ),
    ),
  );

  /** @param {any[] | string} [message] */
  const say = (message) => {
    notice.hidden = !message;
    replace(notice, message ?? '');
  };

  /** The dialog's 201: said, with where its records will be. @param {any} f */
  async function onCreated(f) {
    say([
      `Created flow log ${f.name} (${f.id}). Its records appear in its log topic within ${interval(f.aggregationInterval)} of traffic: `,
      h('a', { href: `#/search/${f.logTopicId}?flowLog=${f.id}`, text: 'Check' }),
      '.',
    ]);
    await load();
  }

  async function load() {
    try {
      const [flowLogs, topics, vpcs, subnets, enis] = await Promise.all(
        ['flow-logs', 'log-topics', 'vpcs', 'subnets', 'network-interfaces'].map(list),
      );
      /** @type {Map<string, {name: string}>} */
      const names = new Map([...topics, ...vpcs, ...subnets, ...enis].map((r) => [r.id, r]));
      replace(
        body,
        flowLogs.length
          ? flowLogs.map((f) => row(f, names))
          : h('tr', {}, h('td', { class: 'empty', colspan: COLUMNS.length }, empty(enis.length))),
      );
    } catch (err) {
      say(`Could not load the flow logs: ${/** @type {Error} */ (err).message}`);
    }
  }

  /** @param {any} f a flow log @param {Map<string, {name: string}>} names */
  function row(f, names) {
    /** @param {string} path @param {string} done */
    const act = (path, done) => async () => {
      try {
        await api(path === '' ? 'DELETE' : 'POST', `/v1/flow-logs/${f.id}${path}`);
        say(done);
      } catch (err) {
        say(`${f.name}: ${/** @type {Error} */ (err).message}`);
      }
      await load();
    };
    const remove = async () => {
      if (
        await confirmDialog({
          title: 'Delete flow log',
          message: `Delete "${f.name}" (${f.id})? Its records stay in the log topic until they expire.`,
          confirm: 'Delete',
          danger: true,
        })
      )
        await act('', `Deleted ${f.name}.`)();
    };
    const cell = (/** @type {string} */ label, /** @type {any[]} */ ...content) =>
      h('td', { 'data-label': label }, h('div', {}, ...content));
    return h(
      'tr',
      { dataset: { id: f.id } },
      cell('Name / ID', h('div', { class: 'strong', text: f.name }), h('div', { class: 'mono muted', text: f.id })),
      cell(
        'Collection range',
        h('div', {
          text: `${RESOURCE_TYPES[/** @type {keyof RESOURCE_TYPES} */ (f.resourceType)]} · ${names.get(f.resourceId)?.name ?? ''}`,
        }),
        h('div', { class: 'mono muted', text: f.resourceId }),
      ),
      cell('Collection type', f.trafficType),
      cell(
        'Log topic',
        h('div', { text: names.get(f.logTopicId)?.name ?? '' }),
        h('div', { class: 'mono muted', text: f.logTopicId }),
      ),
      cell('Interval', interval(f.aggregationInterval)),
      cell(
        'Status',
        h('span', { class: `status ${f.enabled ? 'on' : 'off'}`, text: f.enabled ? 'Enabled' : 'Disabled' }),
      ),
      cell(
        'Tags',
        f.tags.length
          ? f.tags.map((/** @type {{key: string, value: string}} */ t) =>
              h('span', { class: 'tag', text: t.value ? `${t.key}: ${t.value}` : t.key }),
            )
          : h('span', { class: 'muted', text: '-' }),
      ),
      cell('Created', created(f.createdAt)),
      cell(
        'Operation',
        h(
          'div',
          { class: 'ops' },
          h('a', { href: `#/search/${f.logTopicId}?flowLog=${f.id}`, text: 'Check' }),
          f.enabled
            ? h('button', {
                type: 'button',
                class: 'link write',
                text: 'Disable',
                onclick: act('/disable', `Disabled ${f.name}.`),
              })
            : h('button', {
                type: 'button',
                class: 'link write',
                text: 'Enable',
                onclick: act('/enable', `Enabled ${f.name}.`),
              }),
          h('button', { type: 'button', class: 'link danger write', text: 'Delete', onclick: remove }),
        ),
      ),
    );
  }

  void load();
}

/**
 * The network inventory: VPCs, their subnets and the ENIs in those, one page each (#/vpcs, #/subnets,
 * #/network-interfaces) alike: the list, +New (a form above it) and Delete. An empty list says the
 * next step; an ENI shows the agent that registered it, when it was last seen capturing and whether
 * its traffic is recorded.
 */
import { ApiError, api, list, session } from '../api.js';
import { confirmDialog } from '../components/confirm.js';
import { clearErrorsOnEdit, field, fieldError } from '../components/form.js';
import { h, replace, select } from '../dom.js';
import { AGENT_DOCS, READ_ONLY, ago, created } from '../format.js';

/** An ENI's traffic counts as flowing while its newest OK record ended less than this long ago (the longest interval, twice). */
const FLOWING_S = 1200;

/** @typedef {{id: string, name: string, [k: string]: any}} Item */
/**
 * @typedef {object} Input  a form field: a text input, or a select of items
 * @property {string} name  the body field
 * @property {string} label
 * @property {string} missing  the message when it is left empty
 * @property {string} [placeholder]
 * @property {(ctx: any) => Item[]} [choices]  a select of these
 * @property {string} [madeOn]  the page where the choices are made
 */
/**
 * @typedef {object} Kind
 * @property {string} key  ids: #new-<key>, #<key>-<field>
 * @property {string} title
 * @property {string} label  "VPC" in messages
 * @property {string} resource  the API path under /v1
 * @property {string[]} columns
 * @property {Input[]} inputs
 * @property {() => Promise<any>} load  the items (ctx.items) and what their rows need
 * @property {(item: any, ctx: any) => any[]} cells  one per column but the last two (Created, Operation)
 * @property {(ctx: any) => any[]} empty  what an empty list says: the next step
 * @property {(item: any) => any[]} next  what to do after creating one
 */

const link = (/** @type {string} */ href, /** @type {string} */ text) => h('a', { href, text });
const agentLink = () =>
  h('a', { href: AGENT_DOCS, target: '_blank', rel: 'noopener', text: 'README: the capture agent' });
const idCell = (/** @type {Item} */ i) => [
  h('div', { class: 'strong', text: i.name }),
  h('div', { class: 'mono muted', text: i.id }),
];
/** "name" and the id under it, for an item referred to by id. @param {Map<string, Item>} names @param {string} id */
const ref = (names, id) => [h('div', { text: names.get(id)?.name ?? '' }), h('div', { class: 'mono muted', text: id })];
const byId = (/** @type {Item[]} */ items) => new Map(items.map((i) => [i.id, i]));
const readOnly = () => !session.canWrite;

/** @type {Kind} */
const VPC = {
  key: 'vpc',
  title: 'VPCs',
  label: 'VPC',
  resource: 'vpcs',
  columns: ['Name / ID', 'CIDR block', 'Subnets', 'ENIs', 'Created', 'Operation'],
  inputs: [
    { name: 'name', label: 'Name', missing: 'Enter a name.', placeholder: 'e.g. prod' },
    {
      name: 'cidrBlock',
      label: 'CIDR block',
      missing: 'Enter a CIDR block such as 10.0.0.0/16.',
      placeholder: '10.0.0.0/16',
    },
  ],
  async load() {
    const [items, subnets, enis] = await Promise.all(['vpcs', 'subnets', 'network-interfaces'].map(list));
    return { items, subnets, enis };
  },
  cells: (v, { subnets, enis }) => [
    idCell(v),
    h('span', { class: 'mono', text: v.cidrBlock }),
    subnets.filter((/** @type {Item} */ s) => s.vpcId === v.id).length,
    enis.filter((/** @type {Item} */ e) => e.vpcId === v.id).length,
  ],
  empty: () => [
    'No VPCs yet. ',
    readOnly()
      ? READ_ONLY
      : 'Create one with +New: a VPC is an address space (such as 10.0.0.0/16) that holds subnets and their ENIs.',
  ],
  next: (v) => [`Created VPC ${v.name} (${v.id}). Next: `, link('#/subnets', 'create a subnet in it'), '.'],
};

/** @type {Kind} */
const SUBNET = {
  key: 'subnet',
  title: 'Subnets',
  label: 'subnet',
  resource: 'subnets',
  columns: ['Name / ID', 'VPC', 'CIDR block', 'ENIs', 'Created', 'Operation'],
  inputs: [
    { name: 'vpcId', label: 'VPC', missing: 'Choose a VPC.', choices: (ctx) => ctx.vpcs, madeOn: '#/vpcs' },
    { name: 'name', label: 'Name', missing: 'Enter a name.', placeholder: 'e.g. web' },
    {
      name: 'cidrBlock',
      label: 'CIDR block',
      missing: "Enter a CIDR block inside the VPC's, such as 10.0.1.0/24.",
      placeholder: '10.0.1.0/24',
    },
  ],
  async load() {
    const [items, vpcs, enis] = await Promise.all(['subnets', 'vpcs', 'network-interfaces'].map(list));
    return { items, vpcs, enis, names: byId(vpcs) };
  },
  cells: (s, { enis, names }) => [
    idCell(s),
    ref(names, s.vpcId),
    h('span', { class: 'mono', text: s.cidrBlock }),
    enis.filter((/** @type {Item} */ e) => e.subnetId === s.id).length,
  ],
  empty: ({ vpcs }) => [
    'No subnets yet. ',
    readOnly()
      ? READ_ONLY
      : vpcs.length
        ? 'Create one in a VPC with +New.'
        : ['A subnet lies in a VPC: first ', link('#/vpcs', 'create a VPC'), '.'],
  ],
  next: (s) => [
    `Created subnet ${s.name} (${s.id}). Next: `,
    link('#/network-interfaces', 'create an ENI in it'),
    ', or run a capture agent on the host, which registers its ENIs (',
    agentLink(),
    ').',
  ],
};

/** @type {Kind} */
const ENI = {
  key: 'eni',
  title: 'ENIs',
  label: 'ENI',
  resource: 'network-interfaces',
  columns: ['Name / ID', 'Subnet', 'VPC', 'Primary IP', 'Agent', 'Last heartbeat', 'Data', 'Created', 'Operation'],
  inputs: [
    {
      name: 'subnetId',
      label: 'Subnet',
      missing: 'Choose a subnet.',
      choices: (ctx) => ctx.subnets,
      madeOn: '#/subnets',
    },
    { name: 'name', label: 'Name', missing: 'Enter a name.', placeholder: 'e.g. web-1' },
    {
      name: 'primaryIp',
      label: 'Primary IP',
      missing: "Enter its address, inside the subnet's CIDR block.",
      placeholder: '10.0.1.5',
    },
  ],
  async load() {
    const [items, subnets, vpcs, flowLogs] = await Promise.all(
      ['network-interfaces', 'subnets', 'vpcs', 'flow-logs'].map(list),
    );
    const activity = new Map(
      await Promise.all(
        items.map(
          async (/** @type {Item} */ e) =>
            /** @type {const} */ ([e.id, await api('GET', `/v1/network-interfaces/${e.id}/activity`)]),
        ),
      ),
    );
    return { items, subnets, vpcs, flowLogs, activity, names: byId([...subnets, ...vpcs]) };
  },
  cells: (e, { names, flowLogs, activity }) => {
    const a = activity.get(e.id);
    const covered = flowLogs.some(
      (/** @type {any} */ f) => f.enabled && [e.id, e.subnetId, e.vpcId].includes(f.resourceId),
    );
    const now = Date.now() / 1000;
    return [
      idCell(e),
      ref(names, e.subnetId),
      ref(names, e.vpcId),
      h('span', { class: 'mono', text: e.primaryIp }),
      e.agentId
        ? [
            h('div', { class: 'mono', text: e.agentId }),
            h('div', { class: 'muted', text: `registered ${ago(Date.parse(e.registeredAt) / 1000)}` }),
          ]
        : h('span', { class: 'muted', text: 'none (created here)' }),
      a.lastSeenAt
        ? ago(a.lastSeenAt)
        : h('span', { class: 'muted', text: covered ? 'none in 24 h' : '- (no flow log)' }),
      !covered
        ? [
            h('span', { class: 'status off', text: 'Not recorded' }),
            h('div', { class: 'muted' }, link('#/flow-logs', 'Create a flow log'), ' on it'),
          ]
        : a.lastTrafficAt && now - a.lastTrafficAt < FLOWING_S
          ? [
              h('span', { class: 'status on', text: 'Flowing' }),
              h('div', { class: 'muted', text: `last traffic ${ago(a.lastTrafficAt)}` }),
            ]
          : [
              h('span', { class: 'status off', text: 'No traffic' }),
              h('div', { class: 'muted', text: a.lastTrafficAt ? `last ${ago(a.lastTrafficAt)}` : 'none in 24 h' }),
            ],
    ];
  },
  empty: ({ subnets }) => [
    'No ENIs yet. ',
    readOnly()
      ? READ_ONLY
      : [
          subnets.length
            ? 'Create one with +New, or run a capture agent on the host: it registers its ENIs itself ('
            : [
                'An ENI lies in a subnet: first ',
                link('#/vpcs', 'create a VPC'),
                ' and ',
                link('#/subnets', 'a subnet'),
                ', then create one here, or run a capture agent on the host, which registers its ENIs (',
              ],
          agentLink(),
          ').',
        ],
  ],
  next: (e) => [
    `Created ENI ${e.name} (${e.id}). Next: `,
    link('#/flow-logs', 'a flow log on it'),
    ', and a capture agent for its traffic (',
    agentLink(),
    ').',
  ],
};

/** @param {Kind} kind */
function inventoryPage(kind) {
  /** @param {HTMLElement} root */
  function render(root) {
    const body = h('tbody');
    const notice = h('p', { class: 'notice', role: 'status', id: `${kind.key}-notice`, hidden: true });
    const general = h('p', { class: 'form-error', role: 'alert', hidden: true });
    const fields = h('div', { class: 'fields' });
    const form = h(
      'form',
      { class: 'card create-form write', id: `new-${kind.key}-form`, novalidate: true, hidden: true, onsubmit: submit },
      h('h2', { text: `Create ${kind.label}` }),
      fields,
      general,
      h(
        'div',
        { class: 'actions' },
        h('button', { type: 'submit', class: 'primary', id: `${kind.key}-create`, text: 'Create' }),
        h('button', {
          type: 'button',
          text: 'Cancel',
          onclick: () => {
            form.hidden = true;
          },
        }),
      ),
    );
    clearErrorsOnEdit(form);
    root.append(
      h(
        'div',
        { class: 'page-head' },
        h('h1', { text: kind.title }),
        h(
          'div',
          { class: 'toolbar' },
          h('button', { class: 'primary write', type: 'button', id: `new-${kind.key}`, text: '+New', onclick: open }),
          h('button', { type: 'button', text: 'Refresh', onclick: () => load() }),
        ),
      ),
      notice,
      form,
      h(
        'div',
        { class: 'card table-wrap' },
        h(
          'table',
          { class: `list inventory ${kind.key}s` },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              kind.columns.map((c) => h('th', { text: c, class: c === 'Operation' ? 'write' : undefined })),
            ),
          ),
          body,
        ),
      ),
    );

    let ctx = /** @type {any} */ ({ items: [] });
    /** @type {Map<string, {input: HTMLInputElement | HTMLSelectElement, f: ReturnType<typeof field>, spec: Input}>} */
    let inputs = new Map();

    /** @param {any[] | string} [message] */
    const say = (message) => {
      notice.hidden = !message;
      replace(notice, message ?? '');
    };

    /** The list as last asked for: +New waits for it, so that its choices are there. */
    let loading = Promise.resolve();
    function load() {
      return (loading = fetchAndShow());
    }
    async function fetchAndShow() {
      try {
        ctx = await kind.load();
        replace(
          body,
          ctx.items.length
            ? ctx.items.map(row)
            : h('tr', {}, h('td', { class: 'empty', colspan: kind.columns.length }, kind.empty(ctx))),
        );
      } catch (err) {
        say(`Could not load the ${kind.title}: ${/** @type {Error} */ (err).message}`);
      }
    }

    /** The form with fresh choices (a VPC made on the other page since is there). */
    async function open() {
      await loading;
      inputs = new Map(
        kind.inputs.map((spec) => {
          const id = `${kind.key}-${spec.name}`;
          const choices = spec.choices?.(ctx) ?? [];
          const input = spec.choices
            ? select({ id, name: spec.name }, [
                ['', `Select a ${spec.label.toLowerCase()}`],
                ...choices.map((i) => /** @type {[string, string]} */ ([i.id, `${i.name} (${i.id}) ${i.cidrBlock}`])),
              ])
            : /** @type {HTMLInputElement} */ (
                h('input', { id, name: spec.name, placeholder: spec.placeholder, autocomplete: 'off', maxlength: 255 })
              );
          // Nothing to choose from: where to make one.
          const none =
            spec.choices &&
            !choices.length &&
            h(
              'p',
              { class: 'hint', id: `${id}-hint` },
              `No ${spec.label.toLowerCase()} yet: `,
              link(spec.madeOn ?? '', 'create one first'),
              '.',
            );
          return [spec.name, { input, f: field(id, spec.label, input, none), spec }];
        }),
      );
      replace(
        fields,
        [...inputs.values()].map((x) => x.f.el),
      );
      general.hidden = true;
      form.hidden = false;
      /** @type {HTMLElement} */ ([...inputs.values()][0].input).focus();
    }

    /** @param {SubmitEvent} e */
    async function submit(e) {
      e.preventDefault();
      general.hidden = true;
      const values = Object.fromEntries([...inputs].map(([name, x]) => [name, x.input.value.trim()]));
      const missing = [...inputs.values()].filter((x) => !values[x.spec.name]);
      for (const x of missing) fieldError(x.f, x.spec.missing);
      if (missing.length) return;
      try {
        const made = await api('POST', `/v1/${kind.resource}`, { body: values });
        form.hidden = true;
        say(kind.next(made));
        await load();
      } catch (err) {
        const { message } = /** @type {Error} */ (err);
        const issues = err instanceof ApiError ? { ...err.fields } : {};
        // A 404 or 409 names its field first: "vpcId: VPC … not found", "name: a VPC named … exists already".
        const [, path, said] = message.match(/^(\w+): (.*)$/s) ?? [];
        if (!Object.keys(issues).length && path) issues[path] = said;
        const placed = Object.entries(issues).filter(([p]) => inputs.has(p));
        for (const [p, m] of placed) fieldError(/** @type {any} */ (inputs.get(p)).f, m);
        if (!placed.length) {
          general.textContent = message;
          general.hidden = false;
        }
      }
    }

    /** @param {Item} item */
    function row(item) {
      const remove = async () => {
        if (
          !(await confirmDialog({
            title: `Delete ${kind.label}`,
            message: `Delete ${kind.label} "${item.name}" (${item.id})?`,
            confirm: 'Delete',
            danger: true,
          }))
        )
          return;
        try {
          await api('DELETE', `/v1/${kind.resource}/${item.id}`);
          say(`Deleted ${kind.label} ${item.name}.`);
        } catch (err) {
          say(`${item.name}: ${/** @type {Error} */ (err).message}`); // 409: what still uses it
        }
        await load();
      };
      return h(
        'tr',
        { dataset: { id: item.id } },
        [
          ...kind.cells(item, ctx),
          created(item.createdAt),
          h('button', { type: 'button', class: 'link danger write', text: 'Delete', onclick: remove }),
        ]
          // Operation (Delete only) is no column for a read-only key.
          .map((content, i) =>
            h(
              'td',
              { 'data-label': kind.columns[i], class: kind.columns[i] === 'Operation' ? 'write' : undefined },
              h('div', {}, content),
            ),
          ),
      );
    }

    void load();
  }
  return { render };
}

export const vpcs = inventoryPage(VPC);
export const subnets = inventoryPage(SUBNET);
export const networkInterfaces = inventoryPage(ENI);

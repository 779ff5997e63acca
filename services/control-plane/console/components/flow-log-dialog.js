/**
 * "Create flow log rule": the console dialog of the design. Pickers come from the inventory (the
 * subnet and ENI lists follow the chosen VPC and subnet); a logset or log topic can be created in
 * place. Empty required choices are caught here; everything else is the API's 400, each issue shown
 * next to its field.
 */
import { ApiError, api, list } from '../api.js';
import { h, replace, select } from '../dom.js';
import { AGENT_DOCS, INTERVALS, interval } from '../format.js';
import { clearErrorsOnEdit, field, fieldError } from './form.js';

const RANGES = [
  ['NETWORKINTERFACE', 'ENI'],
  ['SUBNET', 'Subnet'],
  ['VPC', 'VPC'],
];
const TRAFFIC = ['ALL', 'ACCEPT', 'REJECT'];
const TRAFFIC_HINT =
  'ALL records accepted and rejected traffic; ACCEPT only traffic the security group allowed; REJECT only traffic it dropped.';

/** @typedef {{id: string, name: string, [k: string]: any}} Item */

/** [id, "name (id)"] options after a placeholder. @param {Item[]} items @param {string} placeholder */
const options = (items, placeholder) =>
  /** @type {[string, string][]} */ ([['', placeholder], ...items.map((i) => [i.id, `${i.name} (${i.id})`])]);

/**
 * Opens the dialog; `onCreated` runs after a 201.
 * @param {{onCreated(flowLog: any): void}} o
 */
export async function openCreateDialog({ onCreated }) {
  /** @type {Item[][]} */
  const [vpcs, subnets, enis, logsets, topics] = await Promise.all(
    ['vpcs', 'subnets', 'network-interfaces', 'logsets', 'log-topics'].map(list),
  );

  const name = h('input', {
    id: 'fl-name',
    name: 'name',
    maxlength: 255,
    placeholder: 'e.g. web-eni-all',
    autocomplete: 'off',
  });
  const ranges = h(
    'div',
    { class: 'radios', role: 'radiogroup', id: 'fl-range' },
    RANGES.map(([value, label], i) =>
      h('label', { class: 'radio' }, h('input', { type: 'radio', name: 'range', value, checked: i === 0 }), label),
    ),
  );
  const vpc = select({ id: 'fl-vpc' }, options(vpcs, 'Select a VPC'));
  const subnet = select({ id: 'fl-subnet' }, []);
  const eni = select({ id: 'fl-eni' }, []);
  // What to do when there is no ENI to choose: the inventory page, or an agent that registers its own.
  const eniHint = h(
    'p',
    { class: 'hint', id: 'fl-eni-hint', hidden: true },
    'No ENI here yet: create one on the ',
    h('a', { href: '#/network-interfaces', text: 'ENIs page' }),
    ', or run a capture agent on the host, which registers its ENIs (',
    h('a', { href: AGENT_DOCS, target: '_blank', rel: 'noopener', text: 'README: the capture agent' }),
    ').',
  );
  const traffic = h(
    'div',
    { class: 'radios', role: 'radiogroup', id: 'fl-traffic' },
    TRAFFIC.map((value, i) =>
      h('label', { class: 'radio' }, h('input', { type: 'radio', name: 'traffic', value, checked: i === 0 }), value),
    ),
  );
  const logset = select({ id: 'fl-logset' }, []);
  const topic = select({ id: 'fl-topic' }, []);
  const tagRows = h('div', { class: 'tags', id: 'fl-tags' });
  const intervalSelect = select(
    { id: 'fl-interval' },
    INTERVALS.map((s) => [String(s), interval(s)]),
    '600',
  );

  const f = {
    name: field('fl-name', 'Name', name),
    range: field('fl-range', 'Collection range', ranges),
    vpc: field('fl-vpc', 'VPC', vpc),
    subnet: field('fl-subnet', 'Subnet', subnet),
    eni: field('fl-eni', 'ENI', eni, eniHint),
    traffic: field('fl-traffic', 'Collection type', traffic, h('p', { class: 'hint', text: TRAFFIC_HINT })),
    logset: field(
      'fl-logset',
      'Logset',
      h(
        'div',
        { class: 'inline' },
        logset,
        createInPlace('logset', 'New logset name', async (n) => {
          const created = await api('POST', '/v1/logsets', { body: { name: n } });
          logsets.push(created);
          fillLogsets(created.id);
        }),
      ),
    ),
    topic: field(
      'fl-topic',
      'Log topic',
      h(
        'div',
        { class: 'inline' },
        topic,
        createInPlace('topic', 'New log topic name', async (n) => {
          if (!logset.value) throw new ApiError(400, { message: 'choose or create a logset first' });
          const created = await api('POST', '/v1/log-topics', { body: { logsetId: logset.value, name: n } });
          topics.push(created);
          fillTopics(created.id);
        }),
      ),
    ),
    tags: field(
      'fl-tags',
      'Tags',
      tagRows,
      h('button', { type: 'button', class: 'link', id: 'fl-add-tag', text: '+ Add tag', onclick: () => addTag() }),
    ),
    interval: field('fl-interval', 'Aggregation interval', intervalSelect),
  };
  const general = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const ok = /** @type {HTMLButtonElement} */ (
    h('button', { type: 'submit', class: 'primary', id: 'fl-ok', text: 'OK' })
  );

  const dialog = /** @type {HTMLDialogElement} */ (
    h(
      'dialog',
      { class: 'form-dialog', 'aria-labelledby': 'fl-title' },
      h(
        'form',
        { novalidate: true, onsubmit: submit },
        h(
          'header',
          {},
          h('h2', { id: 'fl-title', text: 'Create flow log rule' }),
          h('button', {
            type: 'button',
            class: 'icon',
            'aria-label': 'Close',
            text: '×',
            onclick: () => dialog.close(),
          }),
        ),
        h(
          'div',
          { class: 'body' },
          Object.values(f).map((x) => x.el),
          general,
        ),
        h('footer', {}, ok, h('button', { type: 'button', text: 'Cancel', onclick: () => dialog.close() })),
      ),
    )
  );
  dialog.addEventListener('close', () => dialog.remove());
  clearErrorsOnEdit(dialog);

  const range = () => /** @type {HTMLInputElement} */ (ranges.querySelector('input:checked')).value;

  function fillSubnets() {
    const keep = subnet.value;
    replace(
      subnet,
      options(
        subnets.filter((s) => !vpc.value || s.vpcId === vpc.value),
        'Select a subnet',
      ).map(([v, l]) => h('option', { value: v, selected: v === keep }, l)),
    );
    fillEnis();
  }
  function fillEnis() {
    const keep = eni.value;
    const shown = enis.filter(
      (e) => (!vpc.value || e.vpcId === vpc.value) && (!subnet.value || e.subnetId === subnet.value),
    );
    replace(
      eni,
      options(shown, shown.length ? 'Select an ENI' : 'No ENI in this VPC/subnet').map(([v, l]) =>
        h('option', { value: v, selected: v === keep }, l),
      ),
    );
    eniHint.hidden = shown.length > 0;
  }
  function showPickers() {
    f.subnet.el.hidden = range() === 'VPC';
    f.eni.el.hidden = range() !== 'NETWORKINTERFACE';
  }
  /** @param {string} [selected] */
  function fillLogsets(selected = logset.value) {
    replace(
      logset,
      options(logsets, 'Select a logset').map(([v, l]) => h('option', { value: v, selected: v === selected }, l)),
    );
    fillTopics();
  }
  /** @param {string} [selected] */
  function fillTopics(selected = topic.value) {
    replace(
      topic,
      options(
        topics.filter((t) => !logset.value || t.logsetId === logset.value),
        'Select a log topic',
      ).map(([v, l]) => h('option', { value: v, selected: v === selected }, l)),
    );
  }
  // Choosing an ENI or subnet first fills in what contains it.
  vpc.addEventListener('change', fillSubnets);
  subnet.addEventListener('change', () => {
    const s = subnets.find((x) => x.id === subnet.value);
    if (s && vpc.value !== s.vpcId) {
      vpc.value = s.vpcId;
      fillSubnets();
      subnet.value = s.id;
    }
    fillEnis();
  });
  eni.addEventListener('change', () => {
    const e = enis.find((x) => x.id === eni.value);
    if (e && subnet.value !== e.subnetId) {
      vpc.value = e.vpcId;
      fillSubnets();
      subnet.value = e.subnetId;
      fillEnis();
      eni.value = e.id;
    }
  });
  ranges.addEventListener('change', showPickers);
  logset.addEventListener('change', () => fillTopics(''));
  topic.addEventListener('change', () => {
    const t = topics.find((x) => x.id === topic.value);
    if (t && logset.value !== t.logsetId) {
      fillLogsets(t.logsetId);
      topic.value = t.id;
    }
  });

  /** @param {string} [key] @param {string} [value] */
  function addTag(key = '', value = '') {
    const row = h(
      'div',
      { class: 'tag-row' },
      h('input', { class: 'tag-key', placeholder: 'Tag key', 'aria-label': 'Tag key', value: key, maxlength: 127 }),
      h('input', { class: 'tag-value', placeholder: 'Tag value', 'aria-label': 'Tag value', value, maxlength: 255 }),
      h('button', {
        type: 'button',
        class: 'icon',
        'aria-label': 'Remove tag',
        text: '×',
        onclick: () => row.remove(),
      }),
      h('p', { class: 'field-error', role: 'alert' }),
    );
    tagRows.append(row);
    /** @type {HTMLInputElement} */ (row.querySelector('.tag-key')).focus();
  }

  function clearErrors() {
    for (const x of Object.values(f)) x.error.textContent = '';
    for (const p of tagRows.querySelectorAll('.field-error')) p.textContent = '';
    dialog.querySelectorAll('.invalid').forEach((el) => el.classList.remove('invalid'));
    general.hidden = true;
  }
  /** @param {SubmitEvent} e */
  async function submit(e) {
    e.preventDefault();
    clearErrors();
    const picker = {
      NETWORKINTERFACE: [f.eni, eni, 'Choose an ENI.'],
      SUBNET: [f.subnet, subnet, 'Choose a subnet.'],
      VPC: [f.vpc, vpc, 'Choose a VPC.'],
    }[range()];
    const [resourceField, resourceSelect, resourceMessage] = /** @type {[typeof f.eni, HTMLSelectElement, string]} */ (
      picker
    );
    const rows = [...tagRows.querySelectorAll('.tag-row')].filter(
      (r) => r.querySelector('input')?.value || /** @type {HTMLInputElement} */ (r.querySelector('.tag-value')).value,
    );
    const body = {
      name: /** @type {HTMLInputElement} */ (name).value,
      resourceType: range(),
      resourceId: resourceSelect.value,
      trafficType: /** @type {HTMLInputElement} */ (traffic.querySelector('input:checked')).value,
      logTopicId: topic.value,
      aggregationInterval: Number(intervalSelect.value),
      tags: rows.map((r) => ({
        key: /** @type {HTMLInputElement} */ (r.querySelector('.tag-key')).value,
        value: /** @type {HTMLInputElement} */ (r.querySelector('.tag-value')).value,
      })),
    };
    // What the API would only call "too small" or a wrong prefix gets a plain request to choose.
    /** @type {[boolean, typeof f.eni, string][]} */
    const required = [
      [!body.name.trim(), f.name, 'Enter a name.'],
      [!body.resourceId, resourceField, resourceMessage],
      [!body.logTopicId, f.topic, 'Choose a log topic, or create one.'],
    ];
    const missing = required.filter(([empty]) => empty);
    for (const [, x, message] of missing) fieldError(x, message);
    if (missing.length) return;

    ok.disabled = true;
    try {
      const created = await api('POST', '/v1/flow-logs', { body });
      dialog.close();
      onCreated(created);
    } catch (err) {
      showApiError(err, resourceField, rows);
    } finally {
      ok.disabled = false;
    }
  }

  /** @param {unknown} err @param {typeof f.eni} resourceField @param {Element[]} rows */
  function showApiError(err, resourceField, rows) {
    if (!(err instanceof ApiError)) {
      general.textContent = String(err);
      general.hidden = false;
      return;
    }
    /** @type {Record<string, typeof f.eni>} */
    const byPath = {
      name: f.name,
      resourceType: f.range,
      resourceId: resourceField,
      trafficType: f.traffic,
      logTopicId: f.topic,
      aggregationInterval: f.interval,
      tags: f.tags,
    };
    // A 404 for a referenced id names the field first: "logTopicId: log topic … not found".
    const issues = err.issues.length
      ? err.issues
      : [{ path: err.message.split(':')[0], message: err.message.replace(/^\w+: /, '') }];
    const unplaced = [];
    for (const { path, message } of issues) {
      const tag = path.match(/^tags\.(\d+)/);
      const row = tag && rows[Number(tag[1])];
      if (row) {
        const p = /** @type {HTMLElement} */ (row.querySelector('.field-error'));
        p.textContent = `${path.endsWith('.value') ? 'Value' : path.endsWith('.key') ? 'Key' : 'Tag'}: ${message}`;
        row.classList.add('invalid');
      } else if (byPath[path]) fieldError(byPath[path], message);
      else unplaced.push(err.issues.length ? `${path}: ${message}` : err.message);
    }
    if (unplaced.length) {
      general.textContent = unplaced.join('; ');
      general.hidden = false;
    }
  }

  fillSubnets();
  fillLogsets();
  showPickers();
  document.body.append(dialog);
  dialog.showModal();
  name.focus();
}

/**
 * A "Create new" link that turns into a name input with Create/Cancel; `create` throws ApiError to
 * have its message shown there.
 * @param {string} what  id part
 * @param {string} placeholder
 * @param {(name: string) => Promise<void>} create
 */
function createInPlace(what, placeholder, create) {
  const input = /** @type {HTMLInputElement} */ (
    h('input', { id: `fl-new-${what}`, placeholder, 'aria-label': placeholder, maxlength: 255 })
  );
  const error = h('p', { class: 'field-error', role: 'alert' });
  const form = h(
    'div',
    { class: 'create-in-place', hidden: true },
    input,
    h('button', {
      type: 'button',
      id: `fl-new-${what}-create`,
      text: 'Create',
      onclick: async () => {
        error.textContent = '';
        try {
          await create(input.value);
          input.value = '';
          form.hidden = true;
          open.hidden = false;
        } catch (err) {
          error.textContent = err instanceof ApiError ? (err.fields.name ?? err.message) : String(err);
        }
      },
    }),
    h('button', {
      type: 'button',
      class: 'link',
      text: 'Cancel',
      onclick: () => {
        form.hidden = true;
        open.hidden = false;
      },
    }),
    error,
  );
  // Enter in the name creates it rather than submitting the whole dialog.
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') {
      e.preventDefault();
      /** @type {HTMLButtonElement} */
      (form.querySelector('button')).click();
    }
  });
  const open = h('button', {
    type: 'button',
    class: 'link',
    id: `fl-new-${what}-open`,
    text: 'Create new',
    onclick: () => {
      form.hidden = false;
      open.hidden = true;
      input.focus();
    },
  });
  return h('span', { class: 'in-place' }, open, form);
}

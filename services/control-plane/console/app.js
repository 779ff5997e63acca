/**
 * The console's shell: routes by hash (#/sign-in, #/flow-logs, #/vpcs, #/subnets, #/network-interfaces,
 * #/search/<logTopicId>?…) to one page module each, and keeps unsigned visitors on the sign-in page. A
 * page's render() may return a function that cleans up (open streams) when the page is left. Elements
 * of class "write" are shown to an admin key only (styles.css, by body[data-role]).
 */
import { api, session } from './api.js';
import { h, replace } from './dom.js';
import * as flowLogs from './pages/flow-logs.js';
import { networkInterfaces, subnets, vpcs } from './pages/inventory.js';
import * as search from './pages/search.js';
import * as signIn from './pages/sign-in.js';

/** @typedef {{render(root: HTMLElement, params: {id?: string, query: URLSearchParams}): (void | (() => void))}} Page */

/** @type {[RegExp, Page][]} */
const ROUTES = [
  [/^\/sign-in$/, signIn],
  [/^\/flow-logs$/, flowLogs],
  [/^\/vpcs$/, vpcs],
  [/^\/subnets$/, subnets],
  [/^\/network-interfaces$/, networkInterfaces],
  [/^\/search\/([\w-]+)$/, search],
];

const view = /** @type {HTMLElement} */ (document.getElementById('view'));
const nav = /** @type {HTMLElement} */ (document.getElementById('nav'));
const signOut = /** @type {HTMLButtonElement} */ (document.getElementById('sign-out'));
const readOnly = /** @type {HTMLElement} */ (document.getElementById('read-only'));
/** @type {void | (() => void)} */
let cleanup;

async function route() {
  const [path, qs = ''] = location.hash.replace(/^#/, '').split('?');
  if (!session.key && path !== '/sign-in') return void location.replace('#/sign-in');
  if (session.key && (path === '/sign-in' || path === '' || path === '/')) return void location.replace('#/flow-logs');
  if (session.key && !session.role) {
    // A tab signed in before the console asked for the role: ask now (unknown counts as read-only).
    const hash = location.hash;
    const role = await api('GET', '/v1/account').then(
      (a) => a.role,
      () => 'readonly',
    );
    if (!session.key || location.hash !== hash) return;
    session.signIn(session.key, role);
  }
  const match = ROUTES.map(([re, page]) => /** @type {const} */ ([path.match(re), page])).find(([m]) => m);
  cleanup?.();
  cleanup = undefined;
  // A dialog of the page left (+New, a confirmation) goes with it.
  for (const dialog of document.querySelectorAll('dialog[open]')) /** @type {HTMLDialogElement} */ (dialog).close();
  document.body.dataset.role = session.role ?? '';
  readOnly.hidden = !session.key || session.canWrite;
  nav.hidden = signOut.hidden = !session.key;
  for (const a of /** @type {NodeListOf<HTMLAnchorElement>} */ (nav.querySelectorAll('a[data-nav]')))
    a.classList.toggle('active', path.startsWith(`/${a.dataset.nav}`));
  replace(view);
  if (!match) {
    view.append(
      h(
        'section',
        { class: 'card empty' },
        h('h1', { text: 'Not found' }),
        h(
          'p',
          {},
          'No page at ',
          h('code', { text: location.hash }),
          '. ',
          h('a', { href: '#/flow-logs', text: 'Go to Flow Logs' }),
        ),
      ),
    );
    return;
  }
  const [m, page] = match;
  cleanup = page.render(view, { id: m?.[1], query: new URLSearchParams(qs) });
}

signOut.addEventListener('click', () => {
  session.signOut();
  location.hash = '#/sign-in';
});
// Any call answered 401 (a key revoked meanwhile) signs out; the sign-in page says why.
window.addEventListener('flowlogs:signed-out', (e) => {
  sessionStorage.setItem('flowlogs.signedOutReason', /** @type {CustomEvent} */ (e).detail);
  location.hash = '#/sign-in';
});
window.addEventListener('hashchange', () => void route());
void route();

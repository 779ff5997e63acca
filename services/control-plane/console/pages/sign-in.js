/** Sign-in: an API key, checked against the API, kept in sessionStorage for this tab only. */
import { ApiError, api, session } from '../api.js';
import { h } from '../dom.js';

/** @param {HTMLElement} root */
export function render(root) {
  const reason = sessionStorage.getItem('flowlogs.signedOutReason');
  sessionStorage.removeItem('flowlogs.signedOutReason');
  const key = /** @type {HTMLInputElement} */ (
    h('input', {
      id: 'api-key',
      name: 'key',
      type: 'password',
      autocomplete: 'off',
      spellcheck: 'false',
      required: true,
      autofocus: true,
    })
  );
  const error = h('p', {
    class: 'field-error',
    id: 'api-key-error',
    role: 'alert',
    text: reason ? `Signed out: ${reason}` : '',
  });
  const submit = /** @type {HTMLButtonElement} */ (h('button', { class: 'primary', type: 'submit', text: 'Sign in' }));

  const form = h(
    'form',
    {
      class: 'card sign-in',
      novalidate: true,
      onsubmit: async (/** @type {Event} */ e) => {
        e.preventDefault();
        const value = key.value.trim();
        if (!value) return void (error.textContent = 'Enter an API key.');
        submit.disabled = true;
        error.textContent = '';
        try {
          // Tells whether the key is known, and its role: a read-only key is shown no write actions.
          const account = await api('GET', '/v1/account', { key: value });
          session.signIn(value, account.role);
          location.hash = '#/flow-logs';
        } catch (err) {
          error.textContent =
            err instanceof ApiError && err.status === 401
              ? 'This API key is not known.'
              : `Cannot sign in: ${/** @type {Error} */ (err).message}`;
          key.select();
        } finally {
          submit.disabled = false;
        }
      },
    },
    h('h1', { text: 'Sign in' }),
    h('p', {
      class: 'muted',
      text: 'Use an API key of your account. It is kept in this browser tab only and sent with each request.',
    }),
    h('label', { for: 'api-key', text: 'API key' }),
    key,
    error,
    h('div', { class: 'actions' }, submit),
  );
  root.append(form);
  key.focus();
}

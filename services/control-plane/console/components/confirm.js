/** A modal yes/no question; resolves true when confirmed. */
import { h } from '../dom.js';

/**
 * @param {{title: string, message: string, confirm: string, danger?: boolean}} o
 * @returns {Promise<boolean>}
 */
export function confirmDialog({ title, message, confirm, danger = false }) {
  return new Promise((resolve) => {
    const dialog = /** @type {HTMLDialogElement} */ (
      h(
        'dialog',
        { class: 'confirm', 'aria-label': title },
        h(
          'form',
          { method: 'dialog' },
          h('h2', { text: title }),
          h('p', { text: message }),
          h(
            'div',
            { class: 'actions' },
            h('button', { type: 'submit', value: 'cancel', text: 'Cancel' }),
            h('button', { type: 'submit', value: 'ok', class: danger ? 'danger' : 'primary', text: confirm }),
          ),
        ),
      )
    );
    dialog.addEventListener('close', () => {
      resolve(dialog.returnValue === 'ok');
      dialog.remove();
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

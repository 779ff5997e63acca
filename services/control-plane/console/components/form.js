/** Form fields with their error under them: set from a 400's issues, cleared as soon as the field is edited. */
import { h } from '../dom.js';

/** @typedef {{el: HTMLElement, error: HTMLElement}} Field */

/** A labelled field with the place its error goes. @param {string} id @param {string} label @param {...any} controls @returns {Field} */
export function field(id, label, ...controls) {
  const error = h('p', { class: 'field-error', id: `${id}-error`, role: 'alert' });
  const el = h(
    'div',
    { class: 'field', id: `${id}-field` },
    h('label', { for: id, text: label }),
    h('div', { class: 'control' }, ...controls, error),
  );
  return { el, error };
}

/** @param {Field} f @param {string} message */
export function fieldError(f, message) {
  f.error.textContent = message;
  f.el.classList.add('invalid');
}

/**
 * Clears a field's (or a tag row's) error when its input changes: a message about the old value must
 * not stay under a fixed one.
 * @param {HTMLElement} form
 */
export function clearErrorsOnEdit(form) {
  const clear = (/** @type {Event} */ e) => {
    const target = /** @type {HTMLElement} */ (e.target);
    const holder = target.closest('.tag-row') ?? target.closest('.field');
    if (!holder) return;
    holder.classList.remove('invalid');
    const error = holder.querySelector(':scope > .field-error, :scope > .control > .field-error');
    if (error) error.textContent = '';
  };
  form.addEventListener('input', clear);
  form.addEventListener('change', clear);
}

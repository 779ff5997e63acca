/** DOM helpers. Text always goes in as text, never as HTML, so API data cannot inject markup. */

/**
 * @typedef {string | number | Node | null | undefined | false} Child
 * @typedef {Child | Child[] | Child[][]} Children  a child, or lists of them (two deep)
 * @typedef {Record<string, any>} Attrs  class, text, on<event> handlers, dataset, or any attribute
 */

/**
 * An element: h('button', {class: 'primary', onclick: fn}, 'OK').
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Attrs} [attrs]
 * @param {...Children} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/** An SVG element, attributes as given. @param {string} tag @param {Attrs} [attrs] @param {...Children} children */
export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

/** @param {Element} el @param {Attrs} attrs */
function setAttrs(el, attrs) {
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'text') el.textContent = String(v);
    else if (k === 'dataset') Object.assign(/** @type {HTMLElement} */ (el).dataset, v);
    else if (k === 'value' || k === 'checked' || k === 'selected') /** @type {any} */ (el)[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
}

/** @param {Node} el @param {any[]} children */
function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replaces an element's children. @param {Element} el @param {...Children} children */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A <select> of [value, label] options. @param {Attrs} attrs @param {[string, string][]} options @param {string} [selected] */
export function select(attrs, options, selected) {
  return h(
    'select',
    attrs,
    options.map(([value, label]) => h('option', { value, selected: value === selected }, label)),
  );
}

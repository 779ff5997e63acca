/** How values read in the console: sizes, counts, times, and the API's enums in words. */

const nf = new Intl.NumberFormat();

/** @param {number | null | undefined} n */
export const count = (n) => (n === null || n === undefined ? '-' : nf.format(n));

/** 1536 → "1.5 KB". @param {number | null | undefined} n */
export function bytes(n) {
  if (n === null || n === undefined) return '-';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i ? v.toFixed(v < 10 ? 1 : 0) : v} ${units[i]}`;
}

const pad = (/** @type {number} */ n) => String(n).padStart(2, '0');

/** Unix seconds → "2024-05-01 12:00:05" in local time. @param {number | null | undefined} s */
export function dateTime(s) {
  if (s === null || s === undefined) return '-';
  const d = new Date(s * 1000);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** Unix seconds → "12:00:05". @param {number | null | undefined} s */
export function time(s) {
  if (s === null || s === undefined) return '-';
  const d = new Date(s * 1000);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** An ISO date (the API's createdAt) → local date and time. @param {string} iso */
export const created = (iso) => dateTime(Date.parse(iso) / 1000);

/** 600 → "10 min". @param {number} s */
export const interval = (s) => (s % 60 ? `${s} s` : `${s / 60} min`);

export const INTERVALS = [5, 10, 30, 60, 300, 600];

/**
 * A log topic's format in words: "json", "text", or "custom: srcaddr dstaddr …" (the first fields of a long list).
 * @param {string | {custom: string[]}} f
 */
export function logFormat(f) {
  if (typeof f === 'string') return f;
  const shown = f.custom.slice(0, 8).join(' ');
  return `custom: ${f.custom.length > 8 ? `${shown} …` : shown}`;
}

export const RESOURCE_TYPES = /** @type {const} */ ({ NETWORKINTERFACE: 'ENI', SUBNET: 'Subnet', VPC: 'VPC' });

/** IANA protocol numbers the console names. */
const PROTOCOLS = /** @type {Record<number, string>} */ ({
  1: 'ICMP',
  6: 'TCP',
  17: 'UDP',
  47: 'GRE',
  58: 'ICMPv6',
  132: 'SCTP',
});
/** @param {number | null | undefined} p */
export const protocol = (p) =>
  p === null || p === undefined ? '-' : PROTOCOLS[p] ? `${PROTOCOLS[p]} (${p})` : String(p);

/** What an empty list says to a key that may not write. */
export const READ_ONLY = 'This API key is read-only: an admin key creates them.';

/** The README's "Running the agent on a host" (the control plane serves the README): agents register their ENIs. */
export const AGENT_DOCS = '/README.md#:~:text=One%20capture%20agent%20runs%20on%20each%20host';

/** Seconds ago in words. @param {number} s */
export function ago(s) {
  const d = Math.max(0, Math.round(Date.now() / 1000 - s));
  if (d < 90) return `${d} s ago`;
  if (d < 5400) return `${Math.round(d / 60)} min ago`;
  return `${Math.round(d / 3600)} h ago`;
}

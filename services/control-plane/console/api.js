/**
 * The API client: every call sends `Authorization: Bearer <key>`; an error answer becomes an ApiError
 * whose `fields` maps each issue's path ("name", "tags.0.key", "q") to its message.
 */

const KEY = 'flowlogs.apiKey';
const ROLE = 'flowlogs.role';

export const session = {
  /** @returns {string | null} */
  get key() {
    return sessionStorage.getItem(KEY);
  },
  /** The key's role ("admin", "readonly"), as GET /v1/account told at sign-in. @returns {string | null} */
  get role() {
    return sessionStorage.getItem(ROLE);
  },
  /** Whether the key may write: only an admin key may (the console shows no write action to others). */
  get canWrite() {
    return this.role === 'admin';
  },
  /** @param {string} key @param {string} role */
  signIn(key, role) {
    sessionStorage.setItem(KEY, key);
    sessionStorage.setItem(ROLE, role);
  },
  signOut() {
    sessionStorage.removeItem(KEY);
    sessionStorage.removeItem(ROLE);
  },
};

export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {{error?: string, message?: string, issues?: {path: string, message: string}[]}} body
   */
  constructor(status, body) {
    super(body.message || body.error || `HTTP ${status}`);
    this.status = status;
    this.issues = body.issues ?? [];
    /** @type {Record<string, string>} */
    this.fields = {};
    for (const { path, message } of this.issues) {
      this.fields[path] = this.fields[path] ? `${this.fields[path]}; ${message}` : message;
    }
  }
}

/**
 * A query string from the defined, non-empty values.
 * @param {Record<string, string | number | undefined | null>} params
 */
export function queryString(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

/**
 * The raw response of an API call (streams and downloads); throws ApiError unless it is 2xx.
 * A 401 signs out and tells the app (it shows the sign-in page again).
 * @param {string} method
 * @param {string} path  e.g. "/v1/flow-logs"
 * @param {{body?: unknown, query?: Record<string, any>, signal?: AbortSignal, key?: string}} [options]
 * @returns {Promise<Response>}
 */
export async function request(method, path, { body, query = {}, signal, key = session.key ?? '' } = {}) {
  /** @type {Record<string, string>} */
  const headers = { authorization: `Bearer ${key}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path + queryString(query), {
    method,
    headers,
    signal,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.ok) return res;
  const text = await res.text();
  let parsed = {};
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = { message: text || res.statusText };
  }
  const error = new ApiError(res.status, parsed);
  if (res.status === 401 && key === session.key) {
    session.signOut();
    window.dispatchEvent(new CustomEvent('flowlogs:signed-out', { detail: error.message }));
  }
  throw error;
}

/**
 * An API call answering JSON (null for 204).
 * @param {string} method
 * @param {string} path
 * @param {Parameters<typeof request>[2]} [options]
 */
export async function api(method, path, options) {
  const res = await request(method, path, options);
  return res.status === 204 ? null : res.json();
}

/**
 * GET of a resource list: its items.
 * @param {string} resource e.g. "vpcs"
 * @returns {Promise<any[]>}
 */
export const list = async (resource) => (await api('GET', `/v1/${resource}`)).items;

/** Whether an error means "this endpoint does not exist here (yet)": the console hides what needs it. */
export const isMissingRoute = (/** @type {unknown} */ err) => err instanceof ApiError && err.status === 404;

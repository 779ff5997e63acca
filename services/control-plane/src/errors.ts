import { STATUS_CODES } from 'node:http';
import { z } from 'zod';

export interface Issue {
  path: string;
  message: string;
}

/** The body of every error answer (the OpenAPI document's error responses). */
export const ErrorBody = z.object({
  error: z.string().meta({ description: 'the HTTP status text, e.g. "Not Found"' }),
  message: z.string(),
  issues: z
    .array(z.object({ path: z.string(), message: z.string() }))
    .optional()
    .meta({ description: 'on 400: each bad field and why' }),
});

/** An error the API answers as is: `{error, message, issues?}` with its status. */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
    readonly issues?: Issue[],
  ) {
    super(message);
  }

  get body() {
    return {
      error: STATUS_CODES[this.statusCode] ?? 'Error',
      message: this.message,
      ...(this.issues ? { issues: this.issues } : {}),
    };
  }
}

export const notFound = (message: string) => new HttpError(404, message);
export const conflict = (message: string) => new HttpError(409, message);

/** A 400 naming every bad field and why: "cidrBlock: expected a CIDR block …; name: …"; each issue once. */
export function invalid(issues: Issue[]): HttpError {
  const unique = [...new Map(issues.map((i) => [`${i.path}\n${i.message}`, i])).values()];
  return new HttpError(400, unique.map((i) => `${i.path}: ${i.message}`).join('; '), unique);
}

/**
 * The issues of a failed parse. Of two of the same kind on one field (`int()`'s own safe-integer bound
 * and the schema's `max(1000)`, both "too big"), only the later, the schema's own, is kept.
 */
export function issuesOf(error: z.ZodError, root = 'body'): Issue[] {
  const byKind = new Map<string, Issue>();
  for (const i of error.issues) {
    const path = i.path.length ? i.path.join('.') : root;
    const kind = `${path}\n${i.code}`;
    byKind.delete(kind); // re-inserted last: the issues keep the order of their last occurrence
    byKind.set(kind, { path, message: i.message });
  }
  return [...byKind.values()];
}

/**
 * Every string in a request's input (keys too) that holds a NUL byte, which Postgres text cannot store:
 * each named by its path, `prefix` first (no prefix: the field's name alone, as zod's issues name it).
 */
export function nulIssues(input: unknown, prefix = ''): Issue[] {
  const message = 'contains a NUL byte (\\u0000), which is not allowed';
  if (typeof input === 'string') return input.includes('\0') ? [{ path: prefix || 'body', message }] : [];
  if (input === null || typeof input !== 'object') return [];
  return Object.entries(input).flatMap(([key, value]) => {
    const path = prefix ? `${prefix}.${key}` : key;
    return key.includes('\0') ? [{ path, message }] : nulIssues(value, path);
  });
}

/** Parses request input with a zod schema, or throws the 400 that explains what is wrong. */
export function validate<S extends z.ZodType>(schema: S, input: unknown, root?: string): z.infer<S> {
  const result = schema.safeParse(input);
  if (!result.success) throw invalid(issuesOf(result.error, root));
  return result.data;
}

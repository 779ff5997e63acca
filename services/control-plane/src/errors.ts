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
  issues: z.array(z.object({ path: z.string(), message: z.string() })).optional().meta({ description: 'on 400: each bad field and why' }),
});

/** An error the API answers as is: `{error, message, issues?}` with its status. */
export class HttpError extends Error {
  constructor(readonly statusCode: number, message: string, readonly issues?: Issue[]) {
    super(message);
  }

  get body() {
    return { error: STATUS_CODES[this.statusCode] ?? 'Error', message: this.message, ...(this.issues ? { issues: this.issues } : {}) };
  }
}

export const notFound = (message: string) => new HttpError(404, message);
export const conflict = (message: string) => new HttpError(409, message);

/** A 400 naming every bad field and why: "cidrBlock: expected a CIDR block …; name: …". */
export function invalid(issues: Issue[]): HttpError {
  return new HttpError(400, issues.map((i) => `${i.path}: ${i.message}`).join('; '), issues);
}

export function issuesOf(error: z.ZodError, root = 'body'): Issue[] {
  return error.issues.map((i) => ({ path: i.path.length ? i.path.join('.') : root, message: i.message }));
}

/** Parses request input with a zod schema, or throws the 400 that explains what is wrong. */
export function validate<S extends z.ZodType>(schema: S, input: unknown, root?: string): z.infer<S> {
  const result = schema.safeParse(input);
  if (!result.success) throw invalid(issuesOf(result.error, root));
  return result.data;
}

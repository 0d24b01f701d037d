/**
 * The one error type that crosses layers. `code` is stable (clients branch on it),
 * `status` is the HTTP status the exception filter answers with, `details` carries the numbers.
 */
export class ProoflineError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
    readonly details: Record<string, unknown> = {},
    /** Response headers that belong to the error, e.g. Retry-After on a 429 or WWW-Authenticate on a 401. */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** A business rule said no. Raised by `decide`; nothing is appended. */
export class DomainError extends ProoflineError {}

export const rejected = {
  conflict: (code: string, message: string, details?: Record<string, unknown>) => new DomainError(code, message, 409, details),
  unprocessable: (code: string, message: string, details?: Record<string, unknown>) => new DomainError(code, message, 422, details),
  forbidden: (code: string, message: string, details?: Record<string, unknown>) => new DomainError(code, message, 403, details),
  notFound: (code: string, message: string, details?: Record<string, unknown>) => new DomainError(code, message, 404, details),
};

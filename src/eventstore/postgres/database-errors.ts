import { StoreUnavailableError } from '../errors';

const CONNECTION_ERROR_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', '57P01', '57P02', '57P03']);

interface DriverError {
  code?: string;
  constraint?: string;
  name?: string;
  message?: string;
}

/** The constraint a unique violation (SQLSTATE 23505) hit, if the error is one. */
export function uniqueViolationOf(error: unknown): string | undefined {
  const driverError = error as DriverError;
  return driverError?.code === '23505' ? driverError.constraint : undefined;
}

/** Connection-level failures become StoreUnavailableError (503); anything else is rethrown as is. */
export function translateDatabaseError(error: unknown): Error {
  const driverError = error as DriverError;
  const code = driverError?.code ?? '';
  const lostConnection =
    CONNECTION_ERROR_CODES.has(code) ||
    code.startsWith('08') ||
    driverError?.name === 'KnexTimeoutError' ||
    /Connection terminated|connect ECONNREFUSED|Client has encountered a connection error/i.test(driverError?.message ?? '');
  if (lostConnection) return new StoreUnavailableError(error);
  return error instanceof Error ? error : new Error(String(error));
}

import { ConfigurationError } from './load-config';

/**
 * A failure one setting explains: the setting, the rule it has to meet, and what happened.
 * Start-up prints it as one line, `SETTING rule: what happened`, without a stack trace.
 */
export class SettingFailure extends Error {
  constructor(
    readonly setting: string,
    readonly rule: string,
    readonly happened: string,
    options?: { cause?: unknown },
  ) {
    super(`${setting} ${rule}: ${happened}`, options);
    this.name = 'SettingFailure';
  }
}

/** A setting and the rule it has to meet, e.g. `['REDIS_URL', 'must point at a reachable Redis server']`. */
export type Blame = readonly [setting: string, rule: string];

/**
 * Runs one start-up step; a failure is reported as the setting's that explains it: `blame`, or
 * what `blame(error)` answers (undefined: no setting explains it, the error passes on unchanged).
 * A failure that already names its setting is passed on as it is.
 */
export async function blameSetting<T>(blame: Blame | ((error: unknown) => Blame | undefined), step: () => Promise<T> | T): Promise<T> {
  try {
    return await step();
  } catch (error) {
    if (error instanceof SettingFailure || error instanceof ConfigurationError) throw error;
    const found = typeof blame === 'function' ? blame(error) : blame;
    if (!found) throw error;
    throw new SettingFailure(found[0], found[1], oneLineMessage(error), { cause: error });
  }
}

/** A failure of the file system (it has a path): the data dir's. */
export function isFileSystemError(error: unknown): boolean {
  const { code, syscall, path } = (error ?? {}) as { code?: unknown; syscall?: unknown; path?: unknown };
  return typeof code === 'string' && typeof syscall === 'string' && typeof path === 'string';
}

/**
 * An error's message on one line. Client libraries often put the useful part elsewhere:
 * kafkajs in `cause` under a bare class name, pg in the `errors` of an AggregateError with an
 * empty message (every address of a host name refused).
 */
export function oneLineMessage(error: unknown): string {
  return describe(error, 0).replace(/\s*\n\s*/g, ' ').trim() || 'unknown error';
}

function describe(error: unknown, depth: number): string {
  if (typeof error !== 'object' || error === null) return String(error);
  const { name, message, cause, errors } = error as { name?: string; message?: unknown; cause?: unknown; errors?: unknown };
  const text = typeof message === 'string' && message !== name ? message : '';
  if (depth < 5 && Array.isArray(errors) && errors.length > 0) {
    // pg's AggregateError has no message of its own; kafkajs's says only "Topic creation errors": the inner errors say why.
    const inner = [...new Set(errors.map((item) => describeInner(item, depth + 1)))].join('; ');
    return text === '' ? inner : `${text} (${inner})`;
  }
  if (depth < 5 && cause !== undefined && (text === '' || /^KafkaJS/.test(name ?? ''))) {
    const inner = describe(cause, depth + 1);
    return text === '' || inner.includes(text) ? inner : `${text} (${inner})`;
  }
  return text || name || String(error);
}

/** An inner error, with the broker's error type and topic when it is a kafkajs protocol error. */
function describeInner(error: unknown, depth: number): string {
  const { type, topic } = (error ?? {}) as { type?: unknown; topic?: unknown };
  const text = describe(error, depth);
  const labels = [typeof type === 'string' ? type : undefined, typeof topic === 'string' ? `topic ${topic}` : undefined].filter(Boolean);
  return labels.length > 0 && !labels.every((label) => text.includes(label!)) ? `${text} [${labels.join(', ')}]` : text;
}

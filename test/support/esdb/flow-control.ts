/** The part of a grpc-js server call that sends responses (server streaming or bidi). */
export interface ResponseSink<T> {
  readonly cancelled: boolean;
  readonly writableEnded: boolean;
  write(message: T): boolean;
  once(event: 'drain' | 'cancelled' | 'close', listener: () => void): unknown;
  removeListener(event: 'drain' | 'cancelled' | 'close', listener: () => void): unknown;
}

/**
 * Writes one response and, when the transport pushes back (`write` returned false), waits for
 * 'drain' before resolving, so a slow reader slows the sender instead of growing a buffer.
 * Resolves false, without writing, once the call is cancelled or ended: nobody is listening.
 */
export async function send<T>(sink: ResponseSink<T>, message: T): Promise<boolean> {
  if (isGone(sink)) return false;
  if (sink.write(message)) return true;
  return new Promise((resolve) => {
    const settle = (open: boolean) => () => {
      sink.removeListener('drain', onDrain);
      sink.removeListener('cancelled', onGone);
      sink.removeListener('close', onGone);
      resolve(open);
    };
    const onDrain = settle(true);
    const onGone = settle(false);
    sink.once('drain', onDrain);
    sink.once('cancelled', onGone);
    sink.once('close', onGone);
  });
}

export function isGone(sink: Pick<ResponseSink<unknown>, 'cancelled' | 'writableEnded'>): boolean {
  return sink.cancelled || sink.writableEnded;
}

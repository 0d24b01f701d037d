import { StreamNotFoundError, type EventStoreDBClient, type ReadStreamOptions, type ResolvedEvent } from '@eventstore/db-client';
import { translateEsdbError } from './esdb-errors';

/** Every event of a stream read, or none when the stream does not exist (the client throws for that). */
export async function readStreamOrEmpty(client: EventStoreDBClient, streamName: string, options: ReadStreamOptions): Promise<ResolvedEvent[]> {
  const read: ResolvedEvent[] = [];
  try {
    for await (const resolved of client.readStream(streamName, options)) read.push(resolved);
  } catch (error) {
    if (error instanceof StreamNotFoundError) return [];
    throw translateEsdbError(error);
  }
  return read;
}

import type { EventEnvelope } from '../../../contracts';
import { ProoflineError } from '../../errors/proofline-error';
import type { RecordedEvent } from '../event-store.port';

/** The columns every read selects, with bigints as text so pg and PGlite agree. */
export const EVENT_COLUMNS = `transaction_id::text AS commit, global_position::text AS prepare, stream_version::text AS stream_version, envelope,
  event_id::text AS event_id, stream_id, tenant_id`;

export interface EventRow {
  readonly commit: string;
  readonly prepare: string;
  readonly stream_version: string;
  readonly envelope: string;
  readonly event_id: string;
  readonly stream_id: string;
  readonly tenant_id: string;
}

export function toRecordedEvent(row: EventRow): RecordedEvent {
  return {
    envelope: parseEnvelope(row),
    raw: row.envelope,
    streamVersion: Number(row.stream_version),
    position: { commit: BigInt(row.commit), prepare: BigInt(row.prepare) },
    storedAs: { eventId: row.event_id, streamId: row.stream_id, tenantId: row.tenant_id },
  };
}

/** A row whose text is not JSON was written around Proofline; say which one rather than fail anonymously. */
function parseEnvelope(row: EventRow): EventEnvelope {
  try {
    return JSON.parse(row.envelope) as EventEnvelope;
  } catch {
    throw new ProoflineError('STREAM.CORRUPT_ROW', `the stored row of event ${row.event_id} (stream ${row.stream_id}, position ${row.commit}/${row.prepare}) does not hold JSON`, 500, {
      eventId: row.event_id,
    });
  }
}

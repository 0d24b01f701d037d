import type { Knex } from 'knex';
import { canonicalJson, type EventSignature, type JsonValue } from '../../contracts';

export interface Snapshot {
  readonly streamVersion: number;
  readonly stateSchema: string;
  readonly state: JsonValue;
  /** Over snapshotBytes(); a snapshot without a valid one is not used. */
  readonly signature?: EventSignature;
}

export const SNAPSHOT_PURPOSE = 'proofline.snapshot.v2';

/**
 * The bytes a snapshot signature covers: RFC 8785 JSON of its purpose tag, the signer's alg and
 * keyId, the stream id, version, schema and state. Snapshots signed before the tag (no `type`)
 * no longer verify and are not used: a snapshot is a cache, so the stream is replayed instead.
 */
export function snapshotBytes(streamId: string, snapshot: Snapshot, signer: Pick<EventSignature, 'alg' | 'keyId'>): Buffer {
  const { streamVersion, stateSchema, state } = snapshot;
  return Buffer.from(canonicalJson({ type: SNAPSHOT_PURPOSE, alg: signer.alg, keyId: signer.keyId, streamId, streamVersion, stateSchema, state }), 'utf8');
}

/** A stream's state at a version, so loading never replays more than the events since. */
export interface SnapshotStore {
  load(streamId: string): Promise<Snapshot | undefined>;
  save(streamId: string, snapshot: Snapshot): Promise<void>;
}

export class PostgresSnapshotStore implements SnapshotStore {
  constructor(private readonly knex: Knex) {}

  async load(streamId: string): Promise<Snapshot | undefined> {
    const row = await this.knex('snapshots').where({ stream_id: streamId }).first('stream_version', 'state_schema', 'state', 'signature');
    if (!row) return undefined;
    return { streamVersion: Number(row.stream_version), stateSchema: row.state_schema, state: row.state, signature: row.signature ?? undefined };
  }

  async save(streamId: string, snapshot: Snapshot): Promise<void> {
    await this.knex.raw(
      `INSERT INTO snapshots (stream_id, stream_version, state_schema, state, signature) VALUES (?, ?, ?, CAST(? AS jsonb), CAST(? AS jsonb))
       ON CONFLICT (stream_id) DO UPDATE SET stream_version = EXCLUDED.stream_version, state_schema = EXCLUDED.state_schema,
         state = EXCLUDED.state, signature = EXCLUDED.signature, taken_at = now()
       WHERE snapshots.stream_version < EXCLUDED.stream_version`,
      [streamId, snapshot.streamVersion, snapshot.stateSchema, JSON.stringify(snapshot.state), snapshot.signature ? JSON.stringify(snapshot.signature) : null],
    );
  }
}

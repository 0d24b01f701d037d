import type { Knex } from 'knex';
import { START, type GlobalPosition } from '../../src/eventstore/global-position';

export interface StoredPosition {
  readonly position: GlobalPosition;
  readonly applied: number;
  readonly state: 'running' | 'stopped' | 'rebuilding';
  readonly lastError: string | null;
  readonly lastOccurredAt: string | null;
}

export async function readPosition(knex: Knex, projector: string): Promise<StoredPosition> {
  const row = await knex('projector_positions').where({ projector }).first();
  if (!row) return { position: START, applied: 0, state: 'running', lastError: null, lastOccurredAt: null };
  return {
    position: { commit: BigInt(row.position_commit), prepare: BigInt(row.position_prepare) },
    applied: Number(row.applied),
    state: row.state,
    lastError: row.last_error,
    lastOccurredAt: row.last_occurred_at,
  };
}

/** Lets a stopped projector run again (after its handler was fixed); it retries from where it stopped. */
export async function resumeProjector(knex: Knex, projector: string): Promise<void> {
  await knex('projector_positions').where({ projector }).update({ state: 'running', last_error: null, updated_at: knex.fn.now() });
}

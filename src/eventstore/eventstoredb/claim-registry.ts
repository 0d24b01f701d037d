import type { Knex } from 'knex';
import type { JsonObject } from '../../../contracts';
import { StoreUnavailableError } from '../errors';

const TABLE = 'eventstoredb_claims';
const MAX_RACES = 8;
const CHUNK = 5_000;

export interface Claim<R extends JsonObject> {
  readonly record: R;
  readonly revision: number;
  readonly released: boolean;
}

/** A claim this claimant holds, to give up if its append fails. */
export interface HeldClaim {
  readonly name: string;
  readonly revision: number;
}

export type ClaimOutcome<R extends JsonObject> = { readonly won: true; readonly revision: number } | { readonly won: false; readonly holder: R };

/**
 * Names that one holder has at a time (an idempotency key, an event id) for one EventStoreDB
 * store, in PostgreSQL (eventstoredb_claims). A take is a conditional write on the name's row:
 * an insert where there is none, an update of the revision the claimant read otherwise, so of
 * any number of racing claimants exactly one succeeds, and a released claim can be taken again.
 * The claim is written before the append it guards and committed on its own: an append whose
 * outcome is unknown leaves its claim held, judged later by what landed.
 */
export class ClaimRegistry {
  constructor(
    private readonly knex: Knex,
    /** The store the claims belong to; resolves once it is safe to claim there (its old claims imported). */
    private readonly storeId: () => Promise<string>,
  ) {}

  /** Takes every name that has never been claimed, in one statement; returns those it took. */
  async takeUnclaimed(names: readonly string[], record: JsonObject): Promise<HeldClaim[]> {
    if (names.length === 0) return [];
    const storeId = await this.storeId();
    const held: HeldClaim[] = [];
    // In chunks: PostgreSQL binds at most 65,535 parameters to a statement.
    for (let start = 0; start < names.length; start += CHUNK) {
      const rows = names.slice(start, start + CHUNK).map((name) => ({ store_id: storeId, name, record: JSON.stringify(record), revision: 0 }));
      const taken: Array<{ name: string }> = await guarded(() => this.knex(TABLE).insert(rows).onConflict(['store_id', 'name']).ignore().returning(['name']));
      held.push(...taken.map(({ name }) => ({ name, revision: 0 })));
    }
    return held;
  }

  /**
   * Takes `name` for `record`, unless its current holder still holds it. `stillHeld` judges a
   * claim that was never released (e.g. its holder crashed): returning false lets this claimant
   * take over from it.
   */
  async take<R extends JsonObject>(name: string, record: R | ((taken?: R) => R), stillHeld: (holder: R) => Promise<boolean>): Promise<ClaimOutcome<R>> {
    const storeId = await this.storeId();
    // Most names were never claimed: try the insert first, and read only when the name has a row.
    const fresh = JSON.stringify(typeof record === 'function' ? record(undefined) : record);
    const inserted: Array<{ revision: string | number }> = await guarded(() =>
      this.knex(TABLE).insert({ store_id: storeId, name, record: fresh, revision: 0 }).onConflict(['store_id', 'name']).ignore().returning(['revision']),
    );
    if (inserted.length === 1) return { won: true, revision: 0 };
    for (let race = 0; ; race++) {
      const current = await this.current<R>(name);
      if (current && !current.released && (race >= MAX_RACES || (await stillHeld(current.record)))) return { won: false, holder: current.record };
      // A record may carry what it takes over from (an unreleased claim judged not held).
      const data = JSON.stringify(typeof record === 'function' ? record(current && !current.released ? current.record : undefined) : record);
      const written: Array<{ revision: string | number }> = await guarded(() =>
        current
          ? this.knex(TABLE)
              .where({ store_id: storeId, name, revision: current.revision })
              .update({ record: data, revision: current.revision + 1, released: false, updated_at: this.knex.fn.now() })
              .returning(['revision'])
          : this.knex(TABLE).insert({ store_id: storeId, name, record: data, revision: 0 }).onConflict(['store_id', 'name']).ignore().returning(['revision']),
      );
      if (written.length === 1) return { won: true, revision: Number(written[0].revision) };
      // Another claimant wrote the row first: look again at who holds it now.
    }
  }

  /** Gives the claims up, each only if the claim at its revision is still the latest. */
  async release(claims: readonly HeldClaim[]): Promise<void> {
    if (claims.length === 0) return;
    const storeId = await this.storeId();
    await guarded(() =>
      this.knex(TABLE)
        .where({ store_id: storeId })
        .where((query) => {
          for (const claim of claims) void query.orWhere({ name: claim.name, revision: claim.revision });
        })
        .update({ released: true, revision: this.knex.raw('revision + 1'), updated_at: this.knex.fn.now() }),
    );
  }

  async current<R extends JsonObject>(name: string): Promise<Claim<R> | undefined> {
    const storeId = await this.storeId();
    const row: { record: R | string; revision: string | number; released: boolean } | undefined = await guarded(() =>
      this.knex(TABLE).where({ store_id: storeId, name }).first('record', 'revision', 'released'),
    );
    if (!row) return undefined;
    const record = typeof row.record === 'string' ? (JSON.parse(row.record) as R) : row.record;
    return { record, revision: Number(row.revision), released: row.released };
  }
}

/** The registry is written before the append: a failure of it means nothing was written. */
async function guarded<T>(query: () => PromiseLike<T>): Promise<T> {
  try {
    return await query();
  } catch (error) {
    throw new StoreUnavailableError(new Error(`the EventStoreDB claim registry in PostgreSQL failed: ${error instanceof Error ? error.message : String(error)}`));
  }
}

import type { Knex } from 'knex';
import type { Projector } from './projector';

export type TableSet = 'live' | 'shadow';

/** The physical names of a projector's tables, its revision guard included. */
export interface ProjectorTables {
  readonly tables: Readonly<Record<string, string>>;
  /** Per stream, the last version applied: the guard that makes a redelivered event a no-op. */
  readonly guard: string;
}

export function tablesOf(projector: Projector, set: TableSet): ProjectorTables {
  const suffix = set === 'shadow' ? '__rebuild' : '';
  const tables = Object.fromEntries(Object.keys(projector.tables).map((table) => [table, `proj_${projector.name}_${table}${suffix}`]));
  return { tables, guard: `proj_${projector.name}__guard${suffix}` };
}

/** Serialises table creation across instances starting at once (check-then-create is not atomic). */
const CREATE_LOCK = '8209467311002371'; // an arbitrary constant, Proofline's own

/** Creates the projector's tables (if missing) under the names of `set`, in one transaction. */
export async function createTables(knex: Knex, projector: Projector, set: TableSet): Promise<ProjectorTables> {
  const names = tablesOf(projector, set);
  await knex.transaction(async (trx) => {
    await trx.raw('SELECT pg_advisory_xact_lock(?::bigint)', [CREATE_LOCK]);
    for (const [table, columns] of Object.entries(projector.tables)) {
      if (!(await trx.schema.hasTable(names.tables[table]))) await trx.schema.createTable(names.tables[table], columns);
    }
    if (!(await trx.schema.hasTable(names.guard))) {
      await trx.schema.createTable(names.guard, (table) => {
        table.text('stream_id').primary();
        table.bigInteger('version').notNullable();
      });
    }
  });
  return names;
}

export async function dropTables(knex: Knex, names: ProjectorTables): Promise<void> {
  for (const table of [...Object.values(names.tables), names.guard]) await knex.schema.dropTableIfExists(table);
}

/**
 * A digest of every row of the projector's tables, independent of insertion order and of where
 * the events came from: two rebuilds from the same events give the same checksum.
 */
export async function checksumOf(knex: Knex, projector: Projector, set: TableSet = 'live'): Promise<string> {
  const names = tablesOf(projector, set);
  const parts: string[] = [];
  for (const table of Object.keys(projector.tables).sort()) {
    const result = await knex.raw(`SELECT md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) AS digest, count(*)::int AS n FROM ?? t`, [names.tables[table]]);
    const [row] = result.rows as Array<{ digest: string; n: number }>;
    parts.push(`${table}:${row.n}:${row.digest}`);
  }
  return parts.join(' ');
}

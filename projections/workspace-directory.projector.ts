import { defineProjector } from './runtime/projector';

/** One row per workspace as its events say it is now: name, plan, status, members and active API keys. */
export const workspaceDirectoryProjector = defineProjector({
  name: 'workspace_directory',
  handles: [
    'workspaces.registered',
    'workspaces.renamed',
    'workspaces.plan-changed',
    'workspaces.closed',
    'workspaces.member-added',
    'workspaces.member-removed',
    'workspaces.api-key-created',
    'workspaces.api-key-revoked',
  ],
  onFailure: 'stop',
  tables: {
    workspaces: (table) => {
      table.text('tenant_id').primary();
      table.text('name').notNullable();
      table.text('plan_tier').notNullable();
      table.text('status').notNullable();
      table.integer('members').notNullable();
      table.integer('active_api_keys').notNullable();
      table.text('registered_at').notNullable();
      table.text('updated_at').notNullable();
      table.bigInteger('version').notNullable();
    },
  },
  async apply(events, { trx, tables }) {
    const table = tables.workspaces;
    // One event at a time: each row's next value depends on the one before, and workspace events are few.
    for (const { envelope, streamVersion } of events) {
      const where = { tenant_id: envelope.tenantId };
      const touch = { updated_at: envelope.occurredAt, version: streamVersion };
      const data = envelope.data as Record<string, unknown>;
      switch (envelope.type) {
        case 'workspaces.registered':
          await trx(table).insert({
            tenant_id: envelope.tenantId,
            name: String(data.name),
            plan_tier: String(data.planTier),
            status: 'active',
            members: data.owner ? 1 : 0,
            active_api_keys: 0,
            registered_at: envelope.occurredAt,
            ...touch,
          });
          break;
        case 'workspaces.renamed':
          await trx(table).where(where).update({ name: String(data.name), ...touch });
          break;
        case 'workspaces.plan-changed':
          await trx(table).where(where).update({ plan_tier: String(data.planTier), ...touch });
          break;
        case 'workspaces.closed':
          await trx(table).where(where).update({ status: 'closed', ...touch });
          break;
        case 'workspaces.member-added':
          await trx(table).where(where).update({ members: trx.raw('members + 1'), ...touch });
          break;
        case 'workspaces.member-removed':
          await trx(table).where(where).update({ members: trx.raw('members - 1'), ...touch });
          break;
        case 'workspaces.api-key-created':
          await trx(table).where(where).update({ active_api_keys: trx.raw('active_api_keys + 1'), ...touch });
          break;
        case 'workspaces.api-key-revoked':
          await trx(table).where(where).update({ active_api_keys: trx.raw('active_api_keys - 1'), ...touch });
          break;
      }
    }
  },
});

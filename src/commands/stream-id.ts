/**
 * Stream ids carry their tenant, so a command of one tenant cannot even name another tenant's
 * stream: `<category>-<tenantId>` for a tenant's singleton, `<category>-<tenantId>.<entityId>`
 * otherwise. The category is everything before the first `-`.
 */
export function streamIdFor(category: string, tenantId: string, entityId?: string): string {
  if (!/^[a-z][a-z0-9]*$/.test(category)) throw new RangeError(`stream category must be lowercase letters and digits, got ${JSON.stringify(category)}`);
  if (tenantId.includes('.')) throw new RangeError(`a tenant id must not contain '.', which separates it from the entity id: ${JSON.stringify(tenantId)}`);
  return entityId === undefined ? `${category}-${tenantId}` : `${category}-${tenantId}.${entityId}`;
}

/**
 * Which tenant each recently used stream belongs to. A stream's tenant never changes and
 * Proofline deletes no stream, so a remembered answer stays true; it saves reading the stream's
 * head before an append that names its expected version. Bounded: the oldest entries go first.
 */
export class StreamTenants {
  private readonly tenants = new Map<string, string>();

  constructor(private readonly capacity = 10_000) {}

  of(streamId: string): string | undefined {
    return this.tenants.get(streamId);
  }

  remember(streamId: string, tenantId: string): void {
    this.tenants.delete(streamId);
    this.tenants.set(streamId, tenantId);
    if (this.tenants.size > this.capacity) this.tenants.delete(this.tenants.keys().next().value as string);
  }

  forget(streamId: string): void {
    this.tenants.delete(streamId);
  }
}

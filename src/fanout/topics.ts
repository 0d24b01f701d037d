/** Header names on every published event: what a consumer needs without parsing the value. */
export const HEADERS = {
  eventId: 'proofline-event-id',
  eventType: 'proofline-event-type',
  schemaVersion: 'proofline-schema-version',
  tenantId: 'proofline-tenant-id',
  correlationId: 'proofline-correlation-id',
  streamVersion: 'proofline-stream-version',
  position: 'proofline-position',
} as const;

/**
 * Names on the broker. With the default prefix `proofline`, `workspaces.renamed` goes to
 * `proofline.workspaces.events.v1`: one topic per domain, keyed by stream id. Another prefix
 * lets deployments (or test runs) share a cluster without reading each other's events.
 */
export class TopicNames {
  constructor(readonly prefix = 'proofline') {}

  forEvent(eventType: string): string {
    const domain = eventType.split('.')[0];
    if (!/^[a-z][a-z0-9-]*$/.test(domain)) throw new RangeError(`event type ${JSON.stringify(eventType)} names no domain`);
    return `${this.prefix}.${domain}.events.v1`;
  }

  forTypes(eventTypes: readonly string[]): string[] {
    return [...new Set(eventTypes.map((type) => this.forEvent(type)))].sort();
  }

  get deadLetters(): string {
    return `${this.prefix}.dead-letters.v1`;
  }

  consumerGroup(projector: string): string {
    return `${this.prefix}.projector.${projector}`;
  }
}

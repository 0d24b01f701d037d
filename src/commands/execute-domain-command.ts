import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { Inject } from '@nestjs/common';
import { INFRASTRUCTURE } from '../app/tokens';
import type { Infrastructure } from '../app/infrastructure';
import type { CommandOutcome, CommandRequest } from './command-pipeline';
import type { Decider, DomainEvent } from './decider';

/** What controllers put on the CommandBus: an aggregate's decider and one request for it. */
export class ExecuteDomainCommand<C = unknown, E extends DomainEvent = DomainEvent, S = unknown> {
  constructor(
    readonly decider: Decider<C, E, S>,
    readonly request: CommandRequest<C>,
  ) {}
}

/** The one command handler: every aggregate goes through the same load–decide–append pipeline. */
@CommandHandler(ExecuteDomainCommand)
export class ExecuteDomainCommandHandler implements ICommandHandler<ExecuteDomainCommand, CommandOutcome> {
  constructor(@Inject(INFRASTRUCTURE) private readonly infrastructure: Infrastructure) {}

  async execute({ decider, request }: ExecuteDomainCommand): Promise<CommandOutcome> {
    const { pipeline, metrics } = this.infrastructure;
    try {
      const outcome = await pipeline.handle(decider, request);
      metrics.commands.inc({ category: decider.category, outcome: outcome.replayed ? 'replayed' : 'ok' });
      return outcome;
    } catch (error) {
      metrics.commands.inc({ category: decider.category, outcome: 'rejected' });
      throw error;
    }
  }
}

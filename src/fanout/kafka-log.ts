import { Logger } from '@nestjs/common';
import { logLevel, type logCreator } from 'kafkajs';

/**
 * kafkajs logs through the application's logger (pino, via nestjs-pino) at WARN and above: a
 * consumer that crashes or that kafkajs gives up on is visible in the logs, where logLevel
 * NOTHING hid it (issue 25, item 3). Each line is `kafkajs.<namespace>` with kafkajs's message
 * and its fields (broker, groupId, error…) on one line.
 */
export const KAFKA_LOG_LEVEL = logLevel.WARN;

export const kafkaLogCreator: logCreator = () => {
  const loggers = new Map<string, Logger>();
  return ({ namespace, level, log }) => {
    const name = `kafkajs${namespace ? `.${namespace}` : ''}`;
    const logger = loggers.get(name) ?? loggers.set(name, new Logger(name)).get(name)!;
    const { message, timestamp: _timestamp, logger: _origin, ...fields } = log as { message: string; timestamp?: string; logger?: string; [field: string]: unknown };
    const line = Object.keys(fields).length > 0 ? `${message} ${JSON.stringify(fields)}` : message;
    if (level === logLevel.ERROR || level === logLevel.NOTHING) logger.error(line);
    else if (level === logLevel.WARN) logger.warn(line);
    else logger.log(line);
  };
};

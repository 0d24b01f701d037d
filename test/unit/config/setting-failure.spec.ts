import { ConfigurationError } from '../../../src/config/load-config';
import { blameSetting, oneLineMessage, SettingFailure } from '../../../src/config/setting-failure';

describe('start-up failures on one line', () => {
  it('takes the message of the errors inside an AggregateError with none of its own (pg, every address of a host refused)', () => {
    const refused = new AggregateError([new Error('connect ECONNREFUSED ::1:5432'), new Error('connect ECONNREFUSED 127.0.0.1:5432')], '');
    expect(oneLineMessage(refused)).toBe('connect ECONNREFUSED ::1:5432; connect ECONNREFUSED 127.0.0.1:5432');
  });

  it("takes the cause's message when a kafkajs wrapper only repeats it, and adds it when the wrapper says something else", () => {
    const cause = Object.assign(new Error('Connection error: connect ECONNREFUSED 127.0.0.1:1'), { name: 'KafkaJSConnectionError' });
    const wrapper = Object.assign(new Error('Connection error: connect ECONNREFUSED 127.0.0.1:1', { cause }), { name: 'KafkaJSNonRetriableError' });
    expect(oneLineMessage(wrapper)).toBe('Connection error: connect ECONNREFUSED 127.0.0.1:1');
    const retries = Object.assign(new Error('Number of retries exceeded', { cause }), { name: 'KafkaJSNumberOfRetriesExceeded' });
    expect(oneLineMessage(retries)).toBe('Number of retries exceeded (Connection error: connect ECONNREFUSED 127.0.0.1:1)');
  });

  it('joins a message of several lines into one, and says something for an error with no message at all', () => {
    expect(oneLineMessage(new Error('first line\n   second line\n'))).toBe('first line second line');
    expect(oneLineMessage(new Error(''))).toBe('Error');
    expect(oneLineMessage(undefined)).toBe('undefined');
  });

  it('blames the setting the step depends on, and leaves failures that already name one, or that no setting explains, as they are', async () => {
    const redis = await blameSetting(['REDIS_URL', 'must point at a reachable Redis server'], () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:1'))).catch((error: unknown) => error);
    expect(redis).toBeInstanceOf(SettingFailure);
    expect(redis).toMatchObject({ setting: 'REDIS_URL', message: 'REDIS_URL must point at a reachable Redis server: connect ECONNREFUSED 127.0.0.1:1' });

    const named = new SettingFailure('KAFKA_BROKERS', 'must name reachable Kafka brokers', 'no broker answered');
    await expect(blameSetting(['DATABASE_URL', 'must point somewhere'], () => Promise.reject(named))).rejects.toBe(named);
    const invalid = new ConfigurationError(['PORT: must be a number']);
    await expect(blameSetting(['DATABASE_URL', 'must point somewhere'], () => Promise.reject(invalid))).rejects.toBe(invalid);
    const unexplained = new Error('a fault of ours');
    await expect(blameSetting(() => undefined, () => Promise.reject(unexplained))).rejects.toBe(unexplained);
    expect(await blameSetting(['PORT', 'must be free'], () => 42)).toBe(42);
  });
});

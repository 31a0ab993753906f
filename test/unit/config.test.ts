import { describe, expect, it } from 'vitest';
import { loadContentConfig } from '../../workers/content/content-worker.ts';

describe('config', () => {
  it('applies defaults that point at the local stack', () => {
    const config = loadContentConfig({});
    expect(config.KAFKA_BROKERS).toEqual(['127.0.0.1:9092']);
    expect(config.BATCH_SIZE).toBe(500);
    expect(config.CONTENT_GROUP_ID).toBe('koo-content');
  });

  it('names every invalid variable and its value', () => {
    const load = () => loadContentConfig({ BATCH_SIZE: 'lots', DYNAMODB_ENDPOINT: 'not a url' });
    expect(load).toThrow(/BATCH_SIZE \("lots"\): must be a number/);
    expect(load).toThrow(/DYNAMODB_ENDPOINT \("not a url"\): must be a URL/);
    expect(() => loadContentConfig({ SINK_CONCURRENCY: '0' })).toThrow(
      /SINK_CONCURRENCY \("0"\): must be at least 1/,
    );
  });
});

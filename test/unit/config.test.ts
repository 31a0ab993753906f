import { describe, expect, it } from 'vitest';
import { loadContentConfig } from '../../workers/content/content-worker.ts';

describe('config', () => {
  it('applies defaults that point at the local stack', () => {
    const config = loadContentConfig({});
    expect(config.KAFKA_BROKERS).toEqual(['127.0.0.1:9092']);
    expect(config.BATCH_SIZE).toBe(500);
    expect(config.CONTENT_GROUP_ID).toBe('koo-content');
    expect(config.DYNAMODB_ENDPOINT).toBe('http://127.0.0.1:8000');
    expect(config.S3_ENDPOINT).toBe('http://127.0.0.1:9000');
  });

  it('reads an empty endpoint as none: the SDK then uses the AWS regional endpoint', () => {
    const config = loadContentConfig({ DYNAMODB_ENDPOINT: '', S3_ENDPOINT: '' });
    expect(config.DYNAMODB_ENDPOINT).toBeUndefined();
    expect(config.S3_ENDPOINT).toBeUndefined();
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

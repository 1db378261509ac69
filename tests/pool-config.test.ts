// Pool settings: Redis URLs are checked with messages naming the flag or variable, and never shown with their password.
import { describe, expect, it } from 'vitest';
import { checkRedisUrl, poolTiming, queueName, redactRedisUrl, redisUrlFromEnv } from '../server/pool/config.js';
import { decodeFailure, encodeFailure } from '../server/pool/protocol.js';
import { InputError, isCancelled } from '../shared/errors.js';
import { RemoteError } from '../server/worker/protocol.js';
import { DEFAULT_ID } from './helpers/bundled.js';

describe('pool settings', () => {
  it('accepts redis:// and rediss:// URLs and refuses others, naming where the URL came from', () => {
    expect(checkRedisUrl('redis://127.0.0.1:6379')).toBe('redis://127.0.0.1:6379');
    expect(checkRedisUrl('rediss://:secret@redis.example:6380/2')).toBe('rediss://:secret@redis.example:6380/2');
    expect(() => checkRedisUrl('http://redis:6379')).toThrow(/--redis: http: is not redis: or rediss:/);
    expect(() => checkRedisUrl('localhost:6379 x')).toThrow(/--redis: /);
    expect(() => redisUrlFromEnv({ PRECACHE_LENS_REDIS: 'nonsense' })).toThrow(/^PRECACHE_LENS_REDIS: not a URL/);
    expect(redisUrlFromEnv({ PRECACHE_LENS_REDIS: '  ' })).toBeNull();
  });

  it('hides the password of a Redis URL in everything it reports', () => {
    expect(redactRedisUrl('redis://:hunter22@10.0.0.5:6379')).toBe('redis://:***@10.0.0.5:6379');
    expect(redactRedisUrl('rediss://alice:hunter22@redis.example:6380/1')).not.toContain('hunter22');
  });

  it('names a queue by the model graph sha256 only', () => {
    const h = 'ab'.repeat(32);
    expect(queueName(h)).toBe(`precache-lens-analyze-${h}`);
    expect(() => queueName(DEFAULT_ID)).toThrow(/not a sha256/);
  });

  it('refuses a lock time that is not a number of milliseconds', () => {
    expect(poolTiming({}).lockMs).toBe(30_000);
    expect(poolTiming({ PRECACHE_LENS_POOL_LOCK_MS: '2000' }).lockMs).toBe(2000);
    expect(() => poolTiming({ PRECACHE_LENS_POOL_LOCK_MS: '2s' })).toThrow(/PRECACHE_LENS_POOL_LOCK_MS/);
  });

  it('carries an input error through a job failure with its field, and a cancellation as a cancellation', () => {
    const back = decodeFailure(encodeFailure(new InputError('input: too long', 'input')));
    expect(back).toBeInstanceOf(RemoteError);
    expect((back as RemoteError).isInputError).toBe(true);
    expect((back as RemoteError).field).toBe('input');
    expect(isCancelled(decodeFailure('cancelled by the user'))).toBe(true);
    expect(decodeFailure('job stalled more than allowable limit').message).toBe('job stalled more than allowable limit');
  });
});

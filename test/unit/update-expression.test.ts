import { describe, expect, it } from 'vitest';
import { buildUpdate } from '../../shared/dynamodb/update-expression.ts';

describe('buildUpdate', () => {
  it('aliases names and values and turns nulls into removes', () => {
    const u = buildUpdate({
      set: { ttl: 5, h: null, name: 'x' },
      add: { n: 1 },
      delete: { pc: new Set(['a']) },
    });
    expect(u.UpdateExpression).toBe('SET #u0 = :u0, #u2 = :u2 REMOVE #u1 ADD #u3 :u3 DELETE #u4 :u4');
    expect(u.ExpressionAttributeNames).toEqual({
      '#u0': 'ttl',
      '#u1': 'h',
      '#u2': 'name',
      '#u3': 'n',
      '#u4': 'pc',
    });
    expect(u.ExpressionAttributeValues).toEqual({ ':u0': 5, ':u2': 'x', ':u3': 1, ':u4': new Set(['a']) });
  });

  it('sets an attribute only where the item lacks it', () => {
    const u = buildUpdate({ set: { h: 'b' }, setIfAbsent: { ph: 'b' } });
    expect(u.UpdateExpression).toBe('SET #u0 = :u0, #u1 = if_not_exists(#u1, :u1)');
    expect(u.ExpressionAttributeNames).toEqual({ '#u0': 'h', '#u1': 'ph' });
    expect(u.ExpressionAttributeValues).toEqual({ ':u0': 'b', ':u1': 'b' });
  });
});

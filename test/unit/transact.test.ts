import { describe, expect, it } from 'vitest';
import { packTransactions } from '../../shared/dynamodb/transact.ts';

describe('packTransactions', () => {
  const size = (unit: string) => Number(unit.split(':')[1]);

  it('puts many small units in one transaction and cuts before the action limit', () => {
    const chains = Array.from({ length: 30 }, (_, i) => [`k${i}:2`]);
    const [round, ...rest] = packTransactions(chains, size, 25);
    expect(rest).toEqual([]);
    expect(round!.map((t) => t.length)).toEqual([12, 12, 6]);
    expect(round!.flat()).toEqual(chains.flat());
  });

  it("commits a key's units in order, one round each, beside other keys' units", () => {
    const rounds = packTransactions([['a1:99', 'a2:99', 'a3:5'], ['b1:1'], [], ['c1:1', 'c2:1']], size, 100);
    expect(rounds).toEqual([[['a1:99', 'b1:1'], ['c1:1']], [['a2:99', 'c2:1']], [['a3:5']]]);
  });

  it('packs nothing from no chains', () => {
    expect(packTransactions([], size)).toEqual([]);
  });
});

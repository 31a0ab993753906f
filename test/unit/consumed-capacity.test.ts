import { describe, expect, it } from 'vitest';
import { capacityUses } from '../../shared/dynamodb/consumed-capacity.ts';

describe('consumed capacity', () => {
  it('splits an answer into the table and each index it wrote', () => {
    expect(
      capacityUses('UpdateItemCommand', {
        TableName: 'koo_content',
        CapacityUnits: 9,
        Table: { CapacityUnits: 3 },
        GlobalSecondaryIndexes: { by_lang: { CapacityUnits: 3 }, by_creator: { CapacityUnits: 3 } },
      }),
    ).toEqual([
      { table: 'koo_content', index: '', kind: 'write', units: 3 },
      { table: 'koo_content', index: 'by_lang', kind: 'write', units: 3 },
      { table: 'koo_content', index: 'by_creator', kind: 'write', units: 3 },
    ]);
  });

  it('reads a transaction or batch answer per table, and a total without breakdown as the table', () => {
    expect(
      capacityUses('TransactWriteItemsCommand', [
        { TableName: 'koo_reactions', CapacityUnits: 4 },
        { TableName: 'koo_content', CapacityUnits: 2, Table: { CapacityUnits: 2 } },
      ]),
    ).toEqual([
      { table: 'koo_reactions', index: '', kind: 'write', units: 4 },
      { table: 'koo_content', index: '', kind: 'write', units: 2 },
    ]);
    expect(capacityUses('QueryCommand', { TableName: 't', CapacityUnits: 0.5 })).toEqual([
      { table: 't', index: '', kind: 'read', units: 0.5 },
    ]);
  });

  it('ignores commands that consume no capacity and answers without it', () => {
    expect(capacityUses('DescribeTableCommand', { TableName: 't', CapacityUnits: 1 })).toEqual([]);
    expect(capacityUses('GetItemCommand', undefined)).toEqual([]);
  });
});

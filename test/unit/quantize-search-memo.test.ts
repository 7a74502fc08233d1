/**
 * The accuracy-aware search's memo (quantize/search-memo.ts): what it gives back after JSON (as a
 * heartbeat carries it) is what was recorded, whatever the order of the float set; a memo of another
 * basis is not used; what JSON cannot carry exactly is not recorded; rankings are cut to what a
 * search can take.
 */
import { describe, expect, it } from 'vitest';
import { SearchMemoBook, type SearchMemo } from '../../quantize/search-memo';

const viaJson = (memo: SearchMemo): SearchMemo => JSON.parse(JSON.stringify(memo)) as SearchMemo;

describe('SearchMemoBook', () => {
  it('gives back a round and a ranking recorded by another attempt of the same basis, for the float set in any order', () => {
    const first = new SearchMemoBook('basis', 2);
    first.recordRound(['b', 'a'], { passed: false, score: Number.POSITIVE_INFINITY, mae: 0.5, maxAbs: 2 }, 'sha-ab');
    first.recordRanking(
      ['a'],
      [
        { node: 'x', rise: 0.1 },
        { node: 'y', rise: 0.3 },
      ],
    );
    const retried = new SearchMemoBook('basis', 2, viaJson(first.memo()));
    expect(retried.round(['a', 'b'])).toEqual({
      passed: false,
      score: Number.POSITIVE_INFINITY,
      mae: 0.5,
      maxAbs: 2,
      sha256: 'sha-ab',
    });
    expect(retried.ranking(['a'])).toEqual([
      { node: 'y', rise: 0.3 },
      { node: 'x', rise: 0.1 },
    ]);
    expect(retried.round(['a'])).toBeUndefined();
  });

  it('does not use a memo of another basis', () => {
    const first = new SearchMemoBook('graph 1', 2);
    first.recordRound([], { passed: true, score: 0.5, mae: 0.01, maxAbs: 0.1 }, 'sha');
    expect(new SearchMemoBook('graph 2', 2, first.memo()).round([])).toBeUndefined();
  });

  it('leaves out a round whose score is NaN and a ranking with a rise that is not finite', () => {
    const book = new SearchMemoBook('basis', 4);
    book.recordRound(['a'], { passed: false, score: Number.NaN, mae: Number.NaN, maxAbs: 1 }, 'sha');
    book.recordRanking([], [{ node: 'a', rise: Number.POSITIVE_INFINITY }]);
    expect(book.memo()).toEqual({ basis: 'basis', rounds: [], rankings: [] });
  });

  it('cuts a ranking after the most a search can take beyond the float set it was ranked with', () => {
    const book = new SearchMemoBook('basis', 2);
    const ranked = ['p', 'q', 'r', 's', 't'].map((node, i) => ({ node, rise: i }));
    book.recordRanking(['k'], ranked);
    expect(book.ranking(['k'])?.map((r) => r.node)).toEqual(['t', 's', 'r']);
  });
});

/**
 * Among message positions in arrival order (null: a ping or notice, skipped): how many came after
 * a higher one (`outOfOrder`) and how many were a repeat of one already seen (`repeated`, which a
 * client must drop). Positions only need to grow within a channel.
 */
export function arrivalOrder(positions: Iterable<number | null>): { outOfOrder: number; repeated: number } {
  let newest = -Infinity;
  let outOfOrder = 0;
  let repeated = 0;
  const seen = new Set<number>();
  for (const p of positions) {
    if (p === null) continue;
    if (seen.has(p)) repeated++;
    else if (p < newest) outOfOrder++;
    seen.add(p);
    newest = Math.max(newest, p);
  }
  return { outOfOrder, repeated };
}

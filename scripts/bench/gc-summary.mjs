// What a v8.GCProfiler session saw, for the plain-JavaScript reproducers (map-churn.mjs, stream-table.mjs):
// bytes promoted into the old generation (old space growth over each scavenge) and the number of other GCs.

/** statistics: the `statistics` of what `GCProfiler.stop()` returns. */
export function promotedAndFull(statistics) {
  const old = (s) => s.heapSpaceStatistics.find((x) => x.spaceName === "old_space").spaceUsedSize;
  let promoted = 0;
  let full = 0;
  for (const g of statistics) {
    if (g.gcType === "Scavenge") promoted += old(g.afterGC) - old(g.beforeGC);
    else full++;
  }
  return { promoted, full };
}

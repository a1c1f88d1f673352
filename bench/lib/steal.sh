# Sourced by the benchmarks: how much of this machine's busy CPU time its hypervisor gave to other guests during the
# run (the "steal" column of /proc/stat; see CpuSteal.java). The shared 2-core machines lost 38-50% on some days, which
# doubles every timing of such a run: its ratios still compare both sides, its absolute times do not.
steal_mark() {
  steal_at_start=$(awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $9}' /proc/stat 2>/dev/null || true)
}
steal_report() {
  [ -n "${steal_at_start:-}" ] || return 0
  local now
  now=$(awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $9}' /proc/stat 2>/dev/null) || return 0
  awk -v a="$steal_at_start" -v b="$now" 'BEGIN { split(a, x, " "); split(b, y, " "); busy = y[1] - x[1];
    if (busy > 0) { s = 100 * (y[2] - x[2]) / busy;
      printf "steal: %.0f%% of the busy CPU time during this run went to other guests of the hypervisor%s\n", s,
        (s > 10 ? " (absolute times are slower than this CPU runs; compare ratios within the run)" : "") } }'
}

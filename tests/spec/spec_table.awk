# spec_table.awk — turns wasmpool-spec output into the results tables of
# docs/SPEC.md:  build/bin/wasmpool-spec FILES... | awk -f tests/spec/spec_table.awk
# Non-SIMD files get one row each; the simd_* files one summary row.
/^[^ ]+\.wast: [0-9]+ passed, [0-9]+ failed, [0-9]+ skipped/ {
  file = $1; sub(/:$/, "", file)
  passed = $2; failed = $4; skipped = $6
  time = $8; sub(/^\[/, "", time)
  if (file ~ /^simd_/) {
    simd_files++; simd_p += passed; simd_f += failed; simd_s += skipped; simd_t += time
  } else {
    rows[++n] = sprintf("| %s | %d | %d | %d | %s |", file, passed, failed, skipped, time)
    p += passed; f += failed; s += skipped; t += time
  }
}
END {
  print "| file | passed | failed | skipped | seconds |"
  print "|---|---:|---:|---:|---:|"
  for (i = 1; i <= n; i++) print rows[i]
  printf "| **%d non-SIMD files** | **%d** | **%d** | **%d** | %.1f |\n", n, p, f, s, t
  if (simd_files)
    printf "| %d simd_*.wast files | %d | %d | %d | %.1f |\n", simd_files, simd_p, simd_f, simd_s, simd_t
  printf "| **all** | **%d** | **%d** | **%d** | %.1f |\n", p + simd_p, f + simd_f, s + simd_s, t + simd_t
}

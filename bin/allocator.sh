# Sourced by bin/frcnn (and by the benchmarks, to give the peer the same): glibc's allocator tuned for tensors of tens
# to hundreds of MB. By default each allocation above 32 MB is a fresh mmap that the kernel must fault in and zero page
# by page, and freed memory goes back to the system, so every image pays for its activations' pages again. One arena,
# no mmap and no trimming keep freed tensor memory for the next image: VGG-16's convolutions at 1000x600 go from
# 1.55 s to 1.09 s, in frcnn4j and in PyTorch alike. The resident set then stays at its peak instead of swinging.
# A value the caller has already set wins.
export MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX:-1}
export MALLOC_MMAP_MAX_=${MALLOC_MMAP_MAX_:-0}
export MALLOC_TRIM_THRESHOLD_=${MALLOC_TRIM_THRESHOLD_:-68719476736}
export MALLOC_TOP_PAD_=${MALLOC_TOP_PAD_:-268435456}

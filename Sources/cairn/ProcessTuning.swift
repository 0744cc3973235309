import CMalloc

/// Process-wide settings for the server.
enum ProcessTuning {
    /// LMDB allocates every dirty overflow value (a 1 MiB chunk) with
    /// malloc and frees it at commit. glibc serves such sizes with fresh
    /// mmap calls by default, so each chunk costs page faults and an munmap.
    /// Raising the thresholds lets freed blocks be reused from the heap; on
    /// the benchmark machine this cut staging time by about a quarter (see
    /// docs/performance.md). Anonymous memory stays bounded by the largest
    /// transaction (a few MiB).
    static func keepLargeAllocationsInTheHeap() {
        _ = mallopt(M_MMAP_THRESHOLD, 32 << 20)
        _ = mallopt(M_TRIM_THRESHOLD, 64 << 20)
    }
}

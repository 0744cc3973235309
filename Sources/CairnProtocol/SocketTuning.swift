/// How the server and the client size their side of a connection for bulk
/// transfers (uploads and reads of up to `maxChunkBytes` at a time).
///
/// With the kernel's default send buffer (about 208 KiB) a 4 MiB append
/// crosses a Unix socket in twenty or more rounds, each waking the reader and
/// the writer in turn; with a send buffer as large as a chunk the sender
/// hands over a whole chunk at once and goes back to reading or hashing the
/// next one. Measured with `cairn put` and `cairn get` of 256 MiB
/// (docs/performance.md): both about a fifth faster on two cores.
public enum SocketTuning {
    /// `SO_SNDBUF` for both ends: one chunk. The kernel caps it at
    /// `net.core.wmem_max` (and doubles it for its own bookkeeping), so on
    /// a host with a lower limit the connection just keeps that limit.
    public static let sendBufferBytes = 4 << 20

    /// The largest single read of the client: a whole `artifacts.read`
    /// response in four reads. Reads start small and grow only while the
    /// peer keeps them full (NIO's adaptive allocator), so a chatty
    /// connection keeps small buffers.
    public static let clientMaxReadBytes = 1 << 20

    /// The largest single read of the server, from each connection. Smaller
    /// than the client's: a connection may have several reads queued for
    /// its request loop, and a server has many connections; uploads were as
    /// fast with 256 KiB as with 1 MiB (docs/performance.md).
    public static let serverMaxReadBytes = 256 << 10
}

import CXXHash

/// An incremental XXH3-128 computation (seed 0, libxxhash's streaming state).
///
/// Feed it bytes in order with ``update(_:)`` and take the result with
/// ``finalize()``; the result equals ``XXH3Hash128/hash(_:)-(UnsafeRawBufferPointer)``
/// of all the bytes at once. Like ``SHA256Hasher`` it is a single-owner
/// value and not `Sendable`.
///
/// Cairn uses it as a transfer check: a client sends the XXH3-128 of what
/// it uploaded, and the server compares it with its own, at a tenth of the
/// cost of a second SHA-256 on the client. It is not a content address.
public struct XXH3Hasher128: ~Copyable {
    private let state: OpaquePointer

    /// Starts a new computation.
    public init() {
        guard let state = XXH3_createState() else {
            fatalError("libxxhash could not allocate a hash state (out of memory)")
        }
        guard XXH3_128bits_reset(state) == XXH_OK else {
            fatalError("libxxhash refused to initialise XXH3-128")
        }
        self.state = state
    }

    deinit { XXH3_freeState(state) }

    /// A second, independent hasher in the same state.
    public func copy() -> XXH3Hasher128 {
        let other = XXH3Hasher128()
        XXH3_copyState(other.state, state)
        return other
    }

    /// Feeds bytes into the computation.
    public mutating func update(_ buffer: UnsafeRawBufferPointer) {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        _ = XXH3_128bits_update(state, base, buffer.count)
    }

    /// Feeds an array's bytes into the computation.
    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// The hash of the bytes fed so far (the computation may go on).
    public func finalize() -> XXH3Hash128 {
        let hash = XXH3_128bits_digest(state)
        return XXH3Hash128(high: hash.high64, low: hash.low64)
    }
}

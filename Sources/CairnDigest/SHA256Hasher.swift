import CCrypto

/// An incremental SHA-256 computation backed by libcrypto's EVP interface.
///
/// A hasher is a single-owner value: feed it bytes in order with
/// ``update(_:)`` and take the result once with ``finalize()``. It is not
/// `Sendable`; hand the finished ``SHA256Digest`` across threads instead.
public struct SHA256Hasher: ~Copyable {
    private let context: OpaquePointer

    /// Starts a new computation.
    public init() {
        guard let context = EVP_MD_CTX_new() else {
            fatalError("libcrypto could not allocate a digest context (out of memory)")
        }
        guard EVP_DigestInit_ex(context, EVP_sha256(), nil) == 1 else {
            fatalError("libcrypto refused to initialise SHA-256")
        }
        self.context = context
    }

    deinit { EVP_MD_CTX_free(context) }

    /// A second, independent hasher in the same state, so that a computation
    /// can continue tentatively and be dropped if the bytes turn out unwanted.
    public func copy() -> SHA256Hasher {
        let other = SHA256Hasher()
        guard EVP_MD_CTX_copy_ex(other.context, context) == 1 else {
            fatalError("libcrypto could not copy a digest context")
        }
        return other
    }

    /// Feeds bytes into the computation.
    public mutating func update(_ buffer: UnsafeRawBufferPointer) {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        _ = EVP_DigestUpdate(context, base, buffer.count)
    }

    /// Feeds an array's bytes into the computation.
    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// Finishes the computation and returns the digest.
    public consuming func finalize() -> SHA256Digest {
        var output = [UInt8](repeating: 0, count: SHA256Digest.byteCount)
        var length: UInt32 = 0
        _ = output.withUnsafeMutableBufferPointer { EVP_DigestFinal_ex(context, $0.baseAddress, &length) }
        return SHA256Digest(bytes: output)!
    }

    /// The digest of one contiguous buffer.
    public static func digest(_ buffer: UnsafeRawBufferPointer) -> SHA256Digest {
        var output = [UInt8](repeating: 0, count: SHA256Digest.byteCount)
        output.withUnsafeMutableBufferPointer { out in
            _ = EVP_Digest(
                buffer.baseAddress ?? UnsafeRawPointer(bitPattern: 1), buffer.count, out.baseAddress, nil, EVP_sha256(),
                nil)
        }
        return SHA256Digest(bytes: output)!
    }

    /// The digest of an array of bytes.
    public static func digest(_ bytes: [UInt8]) -> SHA256Digest {
        bytes.withUnsafeBytes { digest($0) }
    }
}

import Crypto
import NIOCore

/// The digests of a request body: SHA-256 (hex, for the signature's payload hash, which the
/// service checks the body against) and, when the request carries one, MD5 (base64, for
/// `Content-MD5`).
struct PayloadDigests: Sendable {
    /// Lower-case hex SHA-256, the value of `x-amz-content-sha256`.
    var sha256Hex: String
    /// Base64 MD5, the value of `Content-MD5`; `nil` when not asked for.
    var md5Base64: String?

    /// The SHA-256 of the readable bytes of `body`, and their MD5 when `withMD5`.
    init(of body: ByteBuffer, withMD5: Bool) {
        var sha256 = SHA256()
        var md5 = withMD5 ? Insecure.MD5() : nil
        body.withUnsafeReadableBytes { bytes in
            sha256.update(bufferPointer: bytes)
            md5?.update(bufferPointer: bytes)
        }
        sha256Hex = Hex.encode(sha256.finalize())
        md5Base64 = md5.map { Base64.encode(Array($0.finalize())) }
    }

    /// The MD5 of `body` as raw bytes, for callers who keep the digest of what they sent.
    static func md5(of body: ByteBuffer) -> [UInt8] {
        var md5 = Insecure.MD5()
        body.withUnsafeReadableBytes { md5.update(bufferPointer: $0) }
        return Array(md5.finalize())
    }
}

/// Standard base64 with padding, for `Content-MD5`.
enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func encode(_ bytes: [UInt8]) -> String {
        var text: [UInt8] = []
        text.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index < bytes.count {
            let count = min(3, bytes.count - index)
            var group = UInt32(bytes[index]) << 16
            if count > 1 { group |= UInt32(bytes[index + 1]) << 8 }
            if count > 2 { group |= UInt32(bytes[index + 2]) }
            for position in 0..<4 {
                if position <= count {
                    text.append(alphabet[Int(group >> UInt32(18 - 6 * position) & 0x3F)])
                } else {
                    text.append(UInt8(ascii: "="))
                }
            }
            index += 3
        }
        return String(decoding: text, as: UTF8.self)
    }
}

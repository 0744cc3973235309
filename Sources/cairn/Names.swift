import ArgumentParser
import CairnDigest
import Foundation

/// Local syntax checks of the contract's names, so that a typo is a usage
/// error (exit status 2) before any connection is made. The server checks
/// them again; these only save a round trip and give a clearer message.
enum Names {
    /// `^[a-z0-9][a-z0-9._-]{0,62}$`
    static func isTenant(_ text: String) -> Bool {
        matches(text, maxLength: 63, extra: [UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-")])
    }

    /// `^[a-z0-9][a-z0-9._:-]{0,127}$`
    static func isProvider(_ text: String) -> Bool {
        matches(
            text, maxLength: 128,
            extra: [UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: ":"), UInt8(ascii: "-")])
    }

    /// The canonical lowercase form of an artifact id, or a usage error.
    static func artifactId(_ text: String) throws -> String {
        guard text.utf8.count == 36, let uuid = UUID(uuidString: text) else {
            throw ValidationError(
                "'\(text)' is not an artifact id (a UUID such as 0b6f3c1e-8d2a-4f5e-9c7b-1a2b3c4d5e6f)")
        }
        return uuid.uuidString.lowercased()
    }

    /// The canonical form of a digest (`sha256:` prefix and either case accepted), or a usage error.
    static func digest(_ text: String) throws -> String {
        guard let digest = SHA256Digest(parsing: text) else {
            throw ValidationError("'\(text)' is not a sha256 digest (64 hex digits, optionally prefixed with sha256:)")
        }
        return digest.hex
    }

    private static func matches(_ text: String, maxLength: Int, extra: Set<UInt8>) -> Bool {
        let bytes = Array(text.utf8)
        guard (1...maxLength).contains(bytes.count) else { return false }
        func alphanumeric(_ byte: UInt8) -> Bool {
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
        }
        guard alphanumeric(bytes[0]) else { return false }
        return bytes.dropFirst().allSatisfy { alphanumeric($0) || extra.contains($0) }
    }
}

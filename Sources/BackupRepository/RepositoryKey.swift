import Crypto

/// The master key of an encrypted repository, derived from the operator's key file and the
/// repository's salt, and the keys derived from it.
///
/// Derivation (all HKDF-SHA256 with 32-byte outputs):
/// - master: input the key file's bytes (trailing whitespace removed), salt the repository's
///   salt, info `cairn-backup master`;
/// - an object's key: input the master, info `cairn-backup object ` followed by the object's name;
/// - the naming key: input the master, info `cairn-backup names`. A blob is named by the
///   HMAC-SHA256 of its SHA-256 under this key, so a listing of the bucket reveals no digest.
public struct RepositoryKey: Sendable {
    /// The fewest bytes a key file holds.
    public static let minimumKeyFileLength = 32

    private let master: SymmetricKey
    private let naming: SymmetricKey

    /// Derives the repository's keys.
    ///
    /// - Parameters:
    ///   - keyFile: the key file's contents.
    ///   - salt: the repository's salt, from its configuration.
    /// - Throws: ``RepositoryError`` (`invalidKey`) when the key file holds fewer than
    ///   ``minimumKeyFileLength`` bytes.
    public init(keyFile: [UInt8], salt: [UInt8]) throws {
        var material = keyFile[...]
        while let last = material.last, last == 0x0a || last == 0x0d || last == 0x20 || last == 0x09 {
            material = material.dropLast()
        }
        guard material.count >= Self.minimumKeyFileLength else {
            throw RepositoryError(
                .invalidKey,
                "the encryption key file holds \(material.count) bytes; it needs at least \(Self.minimumKeyFileLength) (e.g. `openssl rand -base64 48`)"
            )
        }
        master = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: Array(material)), salt: salt,
            info: Array("cairn-backup master".utf8), outputByteCount: 32)
        naming = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: master, info: Array("cairn-backup names".utf8), outputByteCount: 32)
    }

    /// The key that seals the object `name`.
    public func objectKey(_ name: String) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(
            inputKeyMaterial: master, info: Array("cairn-backup object \(name)".utf8), outputByteCount: 32)
    }

    /// The keyed name of content whose SHA-256 is `sha256`: 64 lowercase hex digits.
    public func blobName(sha256: [UInt8]) -> String {
        HMAC<SHA256>.authenticationCode(for: sha256, using: naming).hexString
    }
}

extension Sequence<UInt8> {
    /// Lowercase hex.
    var hexString: String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in self {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0xf)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

import Foundation

/// The POSIX ustar format, as far as exports need it: regular files and
/// directories with names under 100 bytes and sizes under 8 GiB.
///
/// A file is a 512-byte header block, its bytes, and zero padding to the
/// next multiple of 512; the archive ends with two zero blocks. Every tar
/// and `tar -tvf` reads what ``header(name:sizeBytes:directory:modified:)``
/// writes.
enum TarArchive {
    static let blockSize = 512
    /// The largest file size the header's 11 octal digits hold.
    static let maxFileSize: UInt64 = (1 << 33) - 1

    /// Why an archive cannot be written or read.
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// The header block of a regular file (mode 0600) or a directory (mode 0700).
    static func header(name: String, sizeBytes: UInt64, directory: Bool = false, modified: Date) throws -> [UInt8] {
        let nameBytes = Array(name.utf8)
        guard !nameBytes.isEmpty, nameBytes.count < 100 else {
            throw Failure(description: "a name too long for ustar: \(name)")
        }
        guard sizeBytes <= maxFileSize else { throw Failure(description: "\(name) is too large for ustar") }
        var block = [UInt8](repeating: 0, count: blockSize)
        func put(_ bytes: [UInt8], at offset: Int) {
            block.replaceSubrange(offset..<offset + bytes.count, with: bytes)
        }
        func octal(_ value: UInt64, at offset: Int, width: Int) {
            let digits = String(value, radix: 8)
            put(Array((String(repeating: "0", count: width - 1 - digits.count) + digits).utf8) + [0], at: offset)
        }
        put(nameBytes, at: 0)
        octal(directory ? 0o700 : 0o600, at: 100, width: 8)
        octal(0, at: 108, width: 8)
        octal(0, at: 116, width: 8)
        octal(sizeBytes, at: 124, width: 12)
        octal(UInt64(max(0, modified.timeIntervalSince1970.rounded(.down))), at: 136, width: 12)
        put([UInt8](repeating: 0x20, count: 8), at: 148)
        block[156] = directory ? UInt8(ascii: "5") : UInt8(ascii: "0")
        put(Array("ustar".utf8) + [0], at: 257)
        put(Array("00".utf8), at: 263)
        let checksum = block.reduce(0) { $0 + UInt64($1) }
        let digits = String(checksum, radix: 8)
        put(Array((String(repeating: "0", count: 6 - digits.count) + digits).utf8) + [0, 0x20], at: 148)
        return block
    }

    /// Zero bytes that pad a file of `size` bytes to a whole number of blocks.
    static func padding(after size: UInt64) -> [UInt8] {
        let rest = Int(size % UInt64(blockSize))
        return rest == 0 ? [] : [UInt8](repeating: 0, count: blockSize - rest)
    }

    /// The two zero blocks that end an archive.
    static let trailer = [UInt8](repeating: 0, count: 2 * blockSize)

    /// A regular file found in an archive: where its bytes start and how many there are.
    struct Entry: Equatable {
        var name: String
        var offset: UInt64
        var sizeBytes: UInt64
    }

    /// The regular files of the archive open on `fd`, by name; directories are skipped.
    ///
    /// - Throws: ``Failure`` on a damaged header (bad checksum, size or name) or a truncated archive.
    static func entries(of fd: Int32, path: String) throws -> [String: Entry] {
        var entries: [String: Entry] = [:]
        var offset: UInt64 = 0
        while true {
            let block: [UInt8]
            do { block = try ExportFiles.read(fd, upTo: blockSize, at: offset) } catch {
                throw Failure(description: "cannot read \(path): \(error.message)")
            }
            guard block.count == blockSize else { throw Failure(description: "\(path) ends inside a header") }
            if block.allSatisfy({ $0 == 0 }) { return entries }
            var unsigned = block
            unsigned.replaceSubrange(148..<156, with: [UInt8](repeating: 0x20, count: 8))
            guard let recorded = number(block[148..<156]), recorded == unsigned.reduce(0, { $0 + UInt64($1) }) else {
                throw Failure(description: "\(path): a damaged tar header at byte \(offset)")
            }
            guard let size = number(block[124..<136]) else {
                throw Failure(description: "\(path): a damaged size at byte \(offset)")
            }
            let name = text(block[0..<100])
            let prefix = text(block[345..<500])
            let full = prefix.isEmpty ? name : prefix + "/" + name
            let type = block[156]
            if type == UInt8(ascii: "0") || type == 0 {
                entries[full] = Entry(name: full, offset: offset + UInt64(blockSize), sizeBytes: size)
            }
            offset += UInt64(blockSize) + size + UInt64(padding(after: size).count)
        }
    }

    private static func number(_ field: ArraySlice<UInt8>) -> UInt64? {
        let digits = field.filter { $0 != 0 && $0 != 0x20 }
        guard !digits.isEmpty else { return 0 }
        return UInt64(String(decoding: digits, as: UTF8.self), radix: 8)
    }

    private static func text(_ field: ArraySlice<UInt8>) -> String {
        String(decoding: field.prefix { $0 != 0 }, as: UTF8.self)
    }
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Damage done to a file in place, the way a failing disk would: for tests
/// that check the store notices.
///
/// The file is searched through a read-only mapping and changed one byte at
/// a time with `pwrite`, so a large, sparse `data.mdb` is neither read into
/// memory nor rewritten whole.
public enum FileDamage {
    /// Why a file could not be searched or changed.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        init(_ call: String, _ path: String) {
            description = "\(call) \(path): \(String(cString: strerror(errno)))"
        }
    }

    /// The offsets at which `pattern` starts in the file at `path`, in
    /// ascending order (occurrences may overlap).
    public static func offsets(of pattern: [UInt8], in path: String) throws -> [Int] {
        precondition(!pattern.isEmpty, "an empty pattern is everywhere")
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw Failure("open", path) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw Failure("fstat", path) }
        let size = Int(info.st_size)
        guard size >= pattern.count else { return [] }
        guard let mapped = mmap(nil, size, PROT_READ, MAP_SHARED, fd, 0), mapped != MAP_FAILED else {
            throw Failure("mmap", path)
        }
        defer { munmap(mapped, size) }
        var offsets: [Int] = []
        var start = 0
        pattern.withUnsafeBytes { needle in
            // The first byte by memchr, the rest compared where it is.
            while start + needle.count <= size,
                let found = memchr(mapped + start, Int32(needle[0]), size - needle.count + 1 - start)
            {
                let offset = mapped.distance(to: found)
                if memcmp(found, needle.baseAddress!, needle.count) == 0 { offsets.append(offset) }
                start = offset + 1
            }
        }
        return offsets
    }

    /// XORs the byte at `offset` of the file at `path` with `mask`.
    public static func flip(_ path: String, at offset: Int, mask: UInt8 = 0x01) throws {
        let fd = open(path, O_RDWR)
        guard fd >= 0 else { throw Failure("open", path) }
        defer { close(fd) }
        var byte: UInt8 = 0
        guard pread(fd, &byte, 1, off_t(offset)) == 1 else { throw Failure("pread", path) }
        byte ^= mask
        guard pwrite(fd, &byte, 1, off_t(offset)) == 1 else { throw Failure("pwrite", path) }
    }
}

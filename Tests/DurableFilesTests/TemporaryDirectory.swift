import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A fresh directory under the system's temporary directory, removed with
/// everything in it when the value goes.
final class TemporaryDirectory {
    /// The directory's absolute path.
    let path: String

    init() throws {
        path =
            FileManager.default.temporaryDirectory
            .appendingPathComponent("cairn-durable-test-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// `path/relative`.
    func callAsFunction(_ relative: String) -> String {
        (path as NSString).appendingPathComponent(relative)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// The permission bits of what is at `path` (not following a link), or -1.
func mode(of path: String) -> Int {
    var info = stat()
    guard lstat(path, &info) == 0 else { return -1 }
    return Int(info.st_mode & 0o7777)
}

/// Whether `path` is a directory (not following a link).
func isDirectory(_ path: String) -> Bool {
    var info = stat()
    return lstat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
}

/// The bytes of the file at `path`, or nil.
func contents(of path: String) -> [UInt8]? {
    FileManager.default.contents(atPath: path).map(Array.init)
}

/// Writes `text` to the new or existing file `path`.
func write(_ text: String, to path: String) throws {
    try Data(text.utf8).write(to: URL(fileURLWithPath: path))
}

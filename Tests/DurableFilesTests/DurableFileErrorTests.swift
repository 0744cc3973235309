import DurableFiles
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The error's shape: a code per step, the path, the errno and a sentence.
@Suite struct DurableFileErrorTests {
    @Test func theDefaultMessageNamesTheStepThePathAndTheReason() {
        let flush = DurableFileError(.flush, path: "/srv/backup", errorNumber: EIO)
        #expect(flush.message == "cannot flush /srv/backup: Input/output error")
        #expect(flush.reason == "Input/output error")
        #expect(flush.description == flush.message)
        #expect(
            DurableFileError(.create, path: "/x", errorNumber: EACCES).message == "cannot create /x: Permission denied")
        #expect(
            DurableFileError(.setMode, path: "/x", errorNumber: EPERM).message
                == "cannot set the mode of /x: Operation not permitted")
        #expect(DurableFileError(.open, path: "/x", errorNumber: ENOENT, message: "mine").message == "mine")
    }

    @Test func codesAreDistinctAndNamed() {
        let codes: [DurableFileError.Code] = [
            .exists, .notDirectory, .create, .open, .write, .setMode, .flush, .rename,
        ]
        #expect(Set(codes).count == codes.count)
        #expect(
            codes.map(\.description) == [
                "exists", "notDirectory", "create", "open", "write", "setMode", "flush", "rename",
            ])
    }
}

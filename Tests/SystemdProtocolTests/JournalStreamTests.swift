import SystemdProtocol
import Testing

@Suite struct JournalStreamTests {
    @Test func deviceAndInode() {
        #expect(
            JournalStream.from(environment: ["JOURNAL_STREAM": "8:12345"]) == JournalStream(device: 8, inode: 12345))
    }

    @Test(arguments: ["", "8", "8:", ":1", "8:1:2", "a:b", "-1:2"])
    func anythingElseIsNoJournal(value: String) {
        #expect(JournalStream.from(environment: ["JOURNAL_STREAM": value]) == nil)
    }

    @Test func unsetIsNoJournal() {
        #expect(JournalStream.from(environment: [:]) == nil)
    }
}

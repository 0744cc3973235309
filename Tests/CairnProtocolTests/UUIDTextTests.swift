import CairnProtocol
import Foundation
import Testing

/// UUID text read and written as Foundation does, without its sscanf/sprintf.
@Suite struct UUIDTextTests {
    @Test func agreesWithFoundation() {
        for _ in 0..<2000 {
            let id = UUID()
            #expect(UUIDText.lowercase(id) == id.uuidString.lowercased())
            #expect(UUIDText.parse(id.uuidString) == id)
            #expect(UUIDText.parse(id.uuidString.lowercased()) == id)
        }
        let edges = UUID(uuid: (0, 0xff, 0x0a, 0xa0, 0x09, 0x90, 0x0f, 0xf0, 1, 2, 3, 4, 5, 6, 7, 0xfe))
        #expect(UUIDText.lowercase(edges) == "00ff0aa0-0990-0ff0-0102-0304050607fe")
        #expect(UUIDText.parse("00FF0AA0-0990-0fF0-0102-0304050607FE") == edges)
    }

    @Test(arguments: [
        "", "0b7c3c2e-4a8f-4d55-9d37-0d2f3c6b1e9", "0b7c3c2e-4a8f-4d55-9d37-0d2f3c6b1e9a0",
        "0b7c3c2e4a8f-4d55-9d37-0d2f3c6b1e9a-", "0b7c3c2e-4a8f-4d55-9d37-0d2f3c6b1e9g",
        "0b7c3c2e 4a8f 4d55 9d37 0d2f3c6b1e9a",
        "{0b7c3c2e-4a8f-4d55-9d37-0d2f3c6b1e9}", "0b7c3c2e4a8f4d559d370d2f3c6b1e9a",
        "0b7c3c2e-4a8f-4d55-9d37-0d2f3c6b1é9",
        "0b7c3c2e--a8f-4d55-9d37-0d2f3c6b1e9a",
    ])
    func refusesWhatIsNotTheHyphenatedForm(_ text: String) {
        #expect(UUIDText.parse(text) == nil, "\(text)")
    }
}

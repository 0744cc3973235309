import CairnLogging
import CairnProtocol
import Foundation
import Logging
import Testing

@Suite struct JSONLogHandlerTests {
    /// 2026-12-07T10:20:30.250Z
    private static let moment = Date(timeIntervalSince1970: 1_796_638_830.25)

    private func logger(_ collected: CollectedOutput, label: String = "cairn") -> Logger {
        Logger(label: label) { JSONLogHandler(label: $0, output: collected.output, clock: { Self.moment }) }
    }

    @Test func oneObjectALineWithTheFieldsInOrder() {
        let collected = CollectedOutput()
        logger(collected).warning("expiring idle uploads failed", metadata: ["error": "disk full"])
        #expect(
            collected.all == [
                #"{"time":"2026-12-07T10:20:30.250Z","level":"warning","label":"cairn","message":"expiring idle uploads failed","metadata":{"error":"disk full"}}"#
                    + "\n"
            ])
    }

    @Test func aMultiLineMessageStaysOneRecordOfOneLine() throws {
        let collected = CollectedOutput()
        logger(collected).critical("cannot start:\n\"quoted\"\ttab")
        let record = try #require(collected.all.first)
        #expect(record.filter { $0 == "\n" }.count == 1)
        #expect(record.hasSuffix("}\n"))
        let parsed = try JSONParser.parse(Array(record.utf8.dropLast()))
        #expect(parsed.objectValue?["message"]?.stringValue == "cannot start:\n\"quoted\"\ttab")
    }

    @Test func nestedMetadataBecomesArraysAndObjects() throws {
        let collected = CollectedOutput()
        var logger = logger(collected, label: "server")
        logger[metadataKey: "peer"] = ["uid": "1000", "pid": .stringConvertible(4242)]
        logger.info("hello", metadata: ["methods": ["system.hello", "tenants.usage"], "count": .stringConvertible(2)])
        let record = try #require(collected.all.first)
        #expect(
            record
                == #"{"time":"2026-12-07T10:20:30.250Z","level":"info","label":"server","message":"hello","metadata":{"count":"2","methods":["system.hello","tenants.usage"],"peer":{"pid":"4242","uid":"1000"}}}"#
                + "\n")
    }

    @Test func noMetadataIsAnEmptyObject() throws {
        let collected = CollectedOutput()
        logger(collected).notice("cairn stopped")
        let record = try #require(collected.all.first)
        let parsed = try JSONParser.parse(Array(record.utf8.dropLast()))
        #expect(parsed.objectValue?["metadata"] == .object(JSONObject()))
        #expect(parsed.objectValue?["level"]?.stringValue == "notice")
    }
}

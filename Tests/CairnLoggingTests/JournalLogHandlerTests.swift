import CairnLogging
import Logging
import Testing

@Suite struct JournalLogHandlerTests {
    @Test func eachLevelGetsItsSyslogPriority() {
        let collected = CollectedOutput()
        var logger = Logger(label: "cairn") { JournalLogHandler(label: $0, output: collected.output) }
        logger.logLevel = .trace
        logger.trace("t")
        logger.debug("d")
        logger.info("i")
        logger.notice("n")
        logger.warning("w")
        logger.error("e")
        logger.critical("c")
        #expect(
            collected.all == [
                "<7>cairn: t\n", "<7>cairn: d\n", "<6>cairn: i\n", "<5>cairn: n\n", "<4>cairn: w\n", "<3>cairn: e\n",
                "<2>cairn: c\n",
            ])
    }

    @Test func noTimestampAndSortedMetadata() {
        let collected = CollectedOutput()
        var logger = Logger(label: "cairn") { JournalLogHandler(label: $0, output: collected.output) }
        logger[metadataKey: "tenant"] = "acme"
        logger.notice("cairn serving", metadata: ["socket": "/run/cairn/cairn.sock", "layout": "5"])
        #expect(collected.all == ["<5>cairn: cairn serving layout=5 socket=/run/cairn/cairn.sock tenant=acme\n"])
    }

    @Test func everyLineOfAMessageCarriesThePriority() {
        let collected = CollectedOutput()
        let logger = Logger(label: "cairn") { JournalLogHandler(label: $0, output: collected.output) }
        logger.error("cannot start:\nline two\n")
        // One record (one write), three journal entries.
        #expect(collected.all == ["<3>cairn: cannot start:\n<3>line two\n<3>\n"])
    }

    @Test func theProvidersMetadataAndTheCallsOverrideTheHandlers() {
        let collected = CollectedOutput()
        let provider = Logger.MetadataProvider { ["request": "7", "peer": "provided"] }
        var logger = Logger(label: "server") {
            JournalLogHandler(label: $0, output: collected.output, metadataProvider: provider)
        }
        logger[metadataKey: "peer"] = "handler"
        logger.warning("slow", metadata: ["request": "8"])
        #expect(collected.all == ["<4>server: slow peer=provided request=8\n"])
    }

    @Test func levelsBelowTheHandlersAreDropped() {
        let collected = CollectedOutput()
        var logger = Logger(label: "cairn") { JournalLogHandler(label: $0, output: collected.output) }
        logger.logLevel = .warning
        logger.info("quiet")
        logger.warning("loud")
        #expect(collected.all == ["<4>cairn: loud\n"])
    }
}

import CairnDigest
import CairnProtocol
import CairnStore
import Foundation
import Testing

@testable import CairnServer

private let digestA = SHA256Digest(parsing: String(repeating: "a", count: 64))!
private let digestB = SHA256Digest(parsing: "sha256:" + String(repeating: "0B", count: 32))!

@Suite("Wire encoding")
struct WireEncodingTests {
    // MARK: Times

    @Test(arguments: [
        (1_776_921_014.123, "2026-04-23T05:10:14.123Z"),
        (1_776_921_014.0, "2026-04-23T05:10:14.000Z"),
        (1_776_921_014.1239, "2026-04-23T05:10:14.123Z"),
        (1_776_921_014.9999, "2026-04-23T05:10:14.999Z"),
        (1_776_921_014.05, "2026-04-23T05:10:14.050Z"),
        (1_776_921_014.007, "2026-04-23T05:10:14.007Z"),
        (0, "1970-01-01T00:00:00.000Z"),
        (0.001, "1970-01-01T00:00:00.001Z"),
        (946_684_799.999, "1999-12-31T23:59:59.999Z"),
        (946_684_800, "2000-01-01T00:00:00.000Z"),
        (489_312_545.25, "1985-07-04T08:09:05.250Z"),
        (951_825_600.5, "2000-02-29T12:00:00.500Z"),
        (4_107_542_400, "2100-03-01T00:00:00.000Z"),
    ])
    func timesAreRFC3339UTCWithThreeMillisecondDigits(_ seconds: Double, _ expected: String) {
        #expect(Wire.time(Date(timeIntervalSince1970: seconds)) == .string(expected))
    }

    @Test func everyMillisecondSurvivesTheStoresConversion() {
        // The store keeps milliseconds and gives back `Date(timeIntervalSince1970: ms / 1000)`.
        let base: Int64 = 1_776_921_014_000
        for millis in base..<base + 5000 {
            let date = Date(timeIntervalSince1970: Double(millis) / 1000)
            let expected = String(format: "2026-04-23T05:10:%02lld.%03lldZ", 14 + (millis - base) / 1000, millis % 1000)
            #expect(Wire.time(date) == .string(expected))
        }
    }

    @Test func timesBefore1970() {
        #expect(Wire.time(Date(timeIntervalSince1970: -0.001)) == "1969-12-31T23:59:59.999Z")
        #expect(Wire.time(Date(timeIntervalSince1970: -86_400.5)) == "1969-12-30T23:59:59.500Z")
    }

    // MARK: Values

    @Test func idsAreLowercase() throws {
        let id = try #require(UUID(uuidString: "6FA459EA-EE8A-3CA4-894E-DB77E160355E"))
        #expect(Wire.id(id) == "6fa459ea-ee8a-3ca4-894e-db77e160355e")
    }

    // MARK: Store errors

    @Test func quotaExceeded() {
        for kind in [StoreError.QuotaKind.bytes, .artifacts] {
            let error = Wire.error(
                StoreError(.quotaExceeded, .quota(kind: kind, limit: 100, used: 90, requested: 20), "over"))
            #expect(error.code == .quotaExceeded)
            #expect(error.code.number == -32000)
            #expect(error.message == "over")
            #expect(
                error.data
                    == JSONObject([
                        ("limit", 100), ("used", 90), ("requested", 20), ("kind", .string(kind.rawValue)),
                    ]))
        }
    }

    @Test func digestMismatch() {
        let error = Wire.error(StoreError(.digestMismatch, .digests(expected: digestA, actual: digestB), "m"))
        #expect(error.code == .digestMismatch)
        #expect(
            error.data
                == JSONObject([
                    ("expected", .string(String(repeating: "a", count: 64))),
                    ("actual", .string(String(repeating: "0b", count: 32))),
                    ("algorithm", "sha256"),
                ]))
    }

    @Test func checksumMismatch() {
        let expected = XXH3Hash128(high: 1, low: 2)
        let actual = XXH3Hash128(high: .max, low: 0)
        let error = Wire.error(StoreError(.digestMismatch, .checksums(expected: expected, actual: actual), "m"))
        #expect(error.code == .digestMismatch)
        #expect(
            error.data
                == JSONObject([
                    ("expected", "00000000000000010000000000000002"),
                    ("actual", "ffffffffffffffff0000000000000000"),
                    ("algorithm", "xxh128"),
                ]))
    }

    @Test func sizeMismatch() {
        let error = Wire.error(StoreError(.sizeMismatch, .sizes(expected: 10, actual: 7), "m"))
        #expect(error.code == .sizeMismatch)
        #expect(error.data == JSONObject([("expected", 10), ("actual", 7)]))
    }

    @Test func offsetMismatch() {
        let error = Wire.error(StoreError(.offsetMismatch, .offset(4096), "m"))
        #expect(error.code == .offsetMismatch)
        #expect(error.data == JSONObject([("offset", 4096)]))
    }

    @Test func integrityError() {
        let error = Wire.error(StoreError(.integrityError, .blob(digestB), "m"))
        #expect(error.code == .integrityError)
        #expect(error.data == JSONObject([("sha256", .string(String(repeating: "0b", count: 32)))]))
    }

    @Test(arguments: ["artifact", "upload", "blob"])
    func notFound(_ what: String) {
        let error = Wire.error(StoreError(.notFound, .what(what), "no such \(what)"))
        #expect(error.code == .notFound)
        #expect(error.data == JSONObject([("what", .string(what))]))
        #expect(error.json["data"] == ["code": "NOT_FOUND", "what": .string(what)])
    }

    @Test func invalidParams() {
        let error = Wire.error(StoreError(.invalidArgument, .field("mimeType"), "m"))
        #expect(error.code == .invalidParams)
        #expect(error.code.number == -32602)
        #expect(error.data == JSONObject([("field", "mimeType")]))
    }

    @Test func tooLarge() {
        let error = Wire.error(StoreError(.tooLarge, .limit(4 << 30), "m"))
        #expect(error.code == .tooLarge)
        #expect(error.data == JSONObject([("limit", 4_294_967_296)]))
    }

    @Test func storeFull() {
        let error = Wire.error(StoreError(.storeFull, .none, "full"))
        #expect(error.code == .storeFull)
        #expect(error.data == JSONObject())
        #expect(error.json["data"] == ["code": "STORE_FULL"])
    }

    @Test func internalAndLayoutErrorsAreInternal() {
        let layout = Wire.error(StoreError(.layoutTooNew, .versions(store: 3, supported: 2), "m"))
        #expect(layout.code == .internalError)
        #expect(layout.code.number == -32603)
        let failure = Wire.error(StoreError(.internalError, .none, "m"))
        #expect(failure.code == .internalError)
        #expect(failure.json["data"] == ["code": "INTERNAL"])
    }

    @Test func everyMappedCodeIsAContractCode() {
        let errors = [
            StoreError(.invalidArgument, .field("f"), "m"), StoreError(.notFound, .what("w"), "m"),
            StoreError(.quotaExceeded, .quota(kind: .bytes, limit: 1, used: 1, requested: 1), "m"),
            StoreError(.tooLarge, .limit(1), "m"),
            StoreError(.digestMismatch, .digests(expected: digestA, actual: digestB), "m"),
            StoreError(.sizeMismatch, .sizes(expected: 1, actual: 2), "m"),
            StoreError(.offsetMismatch, .offset(1), "m"),
            StoreError(.storeFull, .none, "m"), StoreError(.integrityError, .blob(digestA), "m"),
            StoreError(.layoutTooNew, .versions(store: 2, supported: 1), "m"), StoreError(.internalError, .none, "m"),
        ]
        for error in errors {
            let mapped = Wire.error(error)
            #expect(RPCError.Code.all.contains(mapped.code), "\(error)")
            if mapped.code != .internalError {
                #expect(mapped.code.name == error.code.rawValue)
            }
        }
    }
}

import CairnDigest
import CairnProtocol
import CairnProviders
import CairnStore
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The contract's JSON shapes of the store's values.
public enum Wire {
    /// RFC 3339 UTC with milliseconds, e.g. `2026-04-23T05:10:14.123Z`.
    static func time(_ date: Date) -> JSONValue {
        // Truncate to the millisecond; a microsecond of slack absorbs binary
        // fractions (Date keeps seconds since 2001 in a Double).
        let millis = Int64((date.timeIntervalSince1970 * 1000 + 1e-3).rounded(.down))
        // Floor division, so that times before 1970 keep a positive millisecond part.
        let wholeSeconds = millis >= 0 ? millis / 1000 : (millis - 999) / 1000
        let milliseconds = Int32(millis - wholeSeconds * 1000)
        var seconds = time_t(wholeSeconds)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        // YYYY-MM-DDTHH:MM:SS.mmmZ, written digit by digit (this is on the path of every meta).
        let text = String(unsafeUninitializedCapacity: 24) { buffer in
            var position = 0
            func put(_ value: Int32, _ width: Int) {
                var value = value
                for index in stride(from: position + width - 1, through: position, by: -1) {
                    buffer[index] = UInt8(ascii: "0") + UInt8(value % 10)
                    value /= 10
                }
                position += width
            }
            func put(_ character: Unicode.Scalar) {
                buffer[position] = UInt8(ascii: character)
                position += 1
            }
            put(parts.tm_year + 1900, 4)
            put("-")
            put(parts.tm_mon + 1, 2)
            put("-")
            put(parts.tm_mday, 2)
            put("T")
            put(parts.tm_hour, 2)
            put(":")
            put(parts.tm_min, 2)
            put(":")
            put(parts.tm_sec, 2)
            put(".")
            put(milliseconds, 3)
            put("Z")
            return position
        }
        return .string(text)
    }

    static func number(_ value: UInt64) -> JSONValue { .number(JSONNumber(value)) }
    static func number(_ value: Int) -> JSONValue { .number(JSONNumber(value)) }
    static func optional(_ value: UInt64?) -> JSONValue { value.map(number) ?? .null }

    static func id(_ uuid: UUID) -> JSONValue { .string(UUIDText.lowercase(uuid)) }

    /// RFC 3339 UTC with milliseconds, as text.
    static func timeText(_ date: Date) -> String { time(date).stringValue! }

    static func meta(_ meta: ArtifactMeta, deduplicated: Bool? = nil) -> ArtifactMetaResult {
        ArtifactMetaResult(
            artifactId: meta.artifactId, tenantId: meta.tenant.rawValue, providerId: meta.providerId.rawValue,
            mimeType: meta.mimeType, sizeBytes: meta.sizeBytes, sha256: meta.sha256, stagedAt: timeText(meta.stagedAt),
            stagedBy: meta.stagedBy, deduplicated: deduplicated)
    }

    static func usage(_ usage: TenantUsage) -> TenantUsageResult {
        TenantUsageResult(
            tenant: usage.tenant.rawValue, artifactCount: usage.artifactCount, logicalBytes: usage.logicalBytes,
            storedBytes: usage.storedBytes, maxBytes: usage.maxBytes, maxArtifacts: usage.maxArtifacts)
    }

    static func upload(_ status: UploadStatus) -> UploadStateResult {
        UploadStateResult(
            uploadId: status.uploadId, offset: status.offset, sizeBytes: status.declaredSize,
            startedAt: timeText(status.startedAt), updatedAt: timeText(status.updatedAt))
    }

    static func event(_ event: AuditEvent) -> JSONValue {
        var object = JSONObject([
            ("seq", number(event.seq)), ("at", time(event.at)), ("actor", .string(event.actor)),
            ("action", .string(event.action)),
        ])
        if let artifactId = event.artifactId { object["artifactId"] = id(artifactId) }
        if let sha256 = event.sha256 { object["sha256"] = .string(sha256.hex) }
        if let providerId = event.providerId { object["providerId"] = .string(providerId) }
        if let detail = event.detail, let parsed = try? JSONParser.parse(Array(detail.utf8)) {
            object["detail"] = parsed
        }
        return .object(object)
    }

    /// The contract's error for a store failure.
    static func error(_ error: StoreError) -> RPCError {
        var data = JSONObject()
        let code: RPCError.Code
        switch error.code {
        case .invalidArgument: code = .invalidParams
        case .notFound: code = .notFound
        case .quotaExceeded: code = .quotaExceeded
        case .tooLarge: code = .tooLarge
        case .digestMismatch: code = .digestMismatch
        case .sizeMismatch: code = .sizeMismatch
        case .offsetMismatch: code = .offsetMismatch
        case .storeFull: code = .storeFull
        case .integrityError: code = .integrityError
        case .artifactInUse: code = .artifactInUse
        case .providerConfigInvalid: code = .providerConfigInvalid
        case .conflict: code = .conflict
        default: code = .internalError
        }
        switch error.detail {
        case .none: break
        case .field(let field): data["field"] = .string(field)
        case .what(let what): data["what"] = .string(what)
        case .quota(let kind, let limit, let used, let requested):
            data["limit"] = number(limit)
            data["used"] = number(used)
            data["requested"] = number(requested)
            data["kind"] = .string(kind.rawValue)
        case .limit(let limit): data["limit"] = number(limit)
        case .digests(let expected, let actual):
            data["expected"] = .string(expected.hex)
            data["actual"] = .string(actual.hex)
            data["algorithm"] = "sha256"
        case .checksums(let expected, let actual):
            data["expected"] = .string(expected.hex)
            data["actual"] = .string(actual.hex)
            data["algorithm"] = "xxh128"
        case .sizes(let expected, let actual):
            data["expected"] = number(expected)
            data["actual"] = number(actual)
        case .offset(let offset): data["offset"] = number(offset)
        case .blob(let digest): data["sha256"] = .string(digest.hex)
        case .versions(let store, let supported):
            data["storeVersion"] = number(UInt64(store))
            data["supportedVersion"] = number(UInt64(supported))
        case .references(let references):
            data["references"] = .array(
                references.map { ["providerId": .string($0.providerId), "field": .string($0.field)] })
        case .issues(let issues):
            let report = ReadinessReport(issues: issues)
            data["subCodes"] = .array(report.subCodes.map { .string($0.name) })
            data["issues"] = self.issues(issues)
        case .revision(let revision): data["revision"] = number(revision)
        }
        return RPCError(code, error.message, data: data)
    }
}

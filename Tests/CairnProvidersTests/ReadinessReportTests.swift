import CairnProviders
import Testing

@Suite struct ReadinessReportTests {
    @Test func emptyReportIsReady() {
        let report = ReadinessReport(issues: [])
        #expect(report.ready && report.state == "ready" && report.code == nil && report.subCodes.isEmpty)
    }

    @Test func onlyMissingSubCodesGiveRequired() {
        let missing: [ReadinessSubCode] = [
            .missingField, .missingImageSubscriptions, .missingCosignIssuer, .missingCosignSubject, .missingCosignKey,
            .missingTufRoot,
        ]
        for subCode in missing {
            #expect(subCode.isMissing)
            #expect(
                ReadinessReport(issues: [.init(field: "f", subCode: subCode, message: "m")]).code == .configRequired)
        }
    }

    @Test func anyInvalidSubCodeGivesInvalid() {
        let invalid: [ReadinessSubCode] = [
            .invalidImageReference, .invalidCosignMode, .httpRegistryBlocked, .invalidValue, .artifactNotFound,
            .artifactCorrupt,
        ]
        for subCode in invalid {
            #expect(!subCode.isMissing)
            let report = ReadinessReport(issues: [
                .init(field: "a", subCode: .missingField, message: "m"),
                .init(field: "b", subCode: subCode, message: "m"),
            ])
            #expect(report.code == .configInvalid)
            #expect(report.state == "blocked")
        }
    }

    @Test func wireNames() {
        #expect(ReadinessReport.Code.configRequired.rawValue == "PROVIDER_CONFIG_REQUIRED")
        #expect(ReadinessReport.Code.configInvalid.rawValue == "PROVIDER_CONFIG_INVALID")
        #expect(ReadinessSubCode.httpRegistryBlocked.description == "PROVIDER_CONFIG_HTTP_REGISTRY_BLOCKED")
    }
}

import Foundation
import Testing

@testable import ObjectStorage

/// A throwaway Ceph RADOS Gateway for a suite: `tools/ceph-rgw start` before its first test,
/// `stop` after its last, and the gateway's `AWS_*` variables for the tests in between.
///
/// When the gateway cannot start (not root and no ceph packages, no apt), the suite fails with
/// the tool's own message: these tests are never skipped quietly.
struct CephGateway: Sendable {
    /// The gateway of the suite under way.
    @TaskLocal static var current: CephGateway?

    let directory: String
    let environment: [String: String]

    static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    struct StartError: Error, CustomStringConvertible {
        var description: String
    }

    static func start() async throws -> CephGateway {
        let directory = "/tmp/cairn-rgw-\(UUID().uuidString.prefix(8).lowercased())"
        let tool = repository.appendingPathComponent("tools/ceph-rgw").path
        let result = try await ChildProcess.run([tool, "start", directory])
        guard result.status == 0 else {
            throw StartError(
                description: "tools/ceph-rgw start could not start a gateway (exit \(result.status)); "
                    + "these tests need one (as root it installs ceph-mon, ceph-osd and radosgw):\n\(result.errorOutput)"
            )
        }
        let file = try String(contentsOfFile: directory + "/env", encoding: .utf8)
        var environment: [String: String] = [:]
        for line in file.split(separator: "\n") where line.hasPrefix("export ") {
            let assignment = line.dropFirst("export ".count)
            guard let equals = assignment.firstIndex(of: "=") else { continue }
            environment[String(assignment[..<equals])] = String(assignment[assignment.index(after: equals)...])
        }
        return CephGateway(directory: directory, environment: environment)
    }

    func stop() async throws {
        let tool = Self.repository.appendingPathComponent("tools/ceph-rgw").path
        let result = try await ChildProcess.run([tool, "stop", directory])
        guard result.status == 0 else {
            throw StartError(description: "tools/ceph-rgw stop failed: \(result.errorOutput)")
        }
    }

    /// The gateway's configuration, from its variables the way a user's would be read.
    func configuration() throws -> S3Configuration {
        try S3Configuration(environment: environment)
    }
}

/// Starts one ``CephGateway`` around a whole suite.
struct CephGatewayScope: SuiteTrait, TestScoping {
    func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        let gateway = try await CephGateway.start()
        do {
            try await CephGateway.$current.withValue(gateway) { try await function() }
        } catch {
            try? await gateway.stop()
            throw error
        }
        try await gateway.stop()
    }
}

extension Trait where Self == CephGatewayScope {
    /// A Ceph RADOS Gateway on loopback for the suite's tests (``CephGateway/current``).
    static var cephGateway: Self { CephGatewayScope() }
}

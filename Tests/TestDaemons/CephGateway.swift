import Foundation
import ObjectStorage
import Testing

/// A throwaway Ceph RADOS Gateway for a suite: `tools/ceph-rgw start` before its first test,
/// `stop` after its last, and the gateway's `AWS_*` variables for the tests in between.
///
/// When the gateway cannot start (not root and no ceph packages, no apt), the suite fails with
/// the tool's own message: these tests are never skipped quietly.
public struct CephGateway: Sendable {
    /// The gateway of the suite under way.
    @TaskLocal public static var current: CephGateway?

    /// The gateway's directory (`tools/ceph-rgw start DIR`).
    public let directory: String
    /// Its `AWS_*` variables, as a user would export them.
    public let environment: [String: String]

    static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// A gateway that did not start or stop.
    public struct StartError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Starts a gateway in a new directory under /tmp.
    public static func start() async throws -> CephGateway {
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

    /// Stops the daemons and removes the directory.
    public func stop() async throws {
        let tool = Self.repository.appendingPathComponent("tools/ceph-rgw").path
        let result = try await ChildProcess.run([tool, "stop", directory])
        guard result.status == 0 else {
            throw StartError(description: "tools/ceph-rgw stop failed: \(result.errorOutput)")
        }
    }

    /// SIGKILLs the gateway (`tools/ceph-rgw kill-gateway`); the cluster behind it runs on.
    public func killGateway() async throws {
        try await tool("kill-gateway")
    }

    /// Starts the gateway again on its port (`tools/ceph-rgw start-gateway`).
    public func startGateway() async throws {
        try await tool("start-gateway")
    }

    private func tool(_ command: String) async throws {
        let tool = Self.repository.appendingPathComponent("tools/ceph-rgw").path
        let result = try await ChildProcess.run([tool, command, directory])
        guard result.status == 0 else {
            throw StartError(description: "tools/ceph-rgw \(command) failed: \(result.errorOutput)")
        }
    }

    /// The gateway's configuration, from its variables the way a user's would be read.
    public func configuration() throws -> S3Configuration {
        try S3Configuration(environment: environment)
    }
}

/// Starts one ``CephGateway`` around a whole suite.
public struct CephGatewayScope: SuiteTrait, TestScoping {
    public func provideScope(
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
    public static var cephGateway: Self { CephGatewayScope() }
}

import CairnProviders
import Foundation
import Logging
import Testing

@testable import CairnServer

/// Loading `providers.d/`: good files join the catalog, bad ones are reported and skipped.
@Suite struct ProviderDirectoryTests {
    let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    func directory(_ files: [String: [UInt8]]) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("providers-\(UUID())").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        for (name, bytes) in files {
            try Data(bytes).write(to: URL(fileURLWithPath: path).appendingPathComponent(name))
        }
        return path
    }

    func definition(_ id: String) -> [UInt8] {
        Array(#"{"providerId":"\#(id)","displayName":"D","fields":[{"key":"k","shape":"scalar"}]}"#.utf8)
    }

    @Test func aMissingDirectoryIsAnEmptyOne() {
        let loaded = LoadedCatalog.load(directory: "/nonexistent/providers.d", logger: logger)
        #expect(loaded.problems.isEmpty)
        #expect(loaded.catalog.definitions.map(\.providerId) == [ProviderCatalog.ociOpenVEXProviderId])
    }

    @Test func filesLoadInNameOrderAndProblemsNameTheFile() throws {
        let path = try directory([
            "b.json": definition("second"), "a.json": definition("first"), "c.json": definition("first"),
            "d.json": Array("{".utf8), "e.json": Array(#"{"providerId":"x","displayName":"X"}"#.utf8),
            "notes.txt": Array("ignored".utf8), ".hidden.json": Array("{".utf8),
            "big.json": [UInt8](repeating: 0x20, count: LoadedCatalog.maxFileBytes + 1),
        ])
        defer { try? FileManager.default.removeItem(atPath: path) }
        let loaded = LoadedCatalog.load(directory: path, logger: logger)
        #expect(
            loaded.catalog.definitions.map(\.providerId) == [ProviderCatalog.ociOpenVEXProviderId, "first", "second"])
        #expect(loaded.problems.count == 4, "\(loaded.problems)")
        for name in ["big.json", "c.json", "d.json", "e.json"] {
            #expect(loaded.problems.contains { $0.hasPrefix("providers.d/\(name): ") }, "\(name): \(loaded.problems)")
        }
        #expect(loaded.problems.contains { $0.contains("already defined") })
    }

    @Test func anUnreadableDirectoryIsAProblemNotAFailure() throws {
        let path = try directory([:])
        defer { try? FileManager.default.removeItem(atPath: path) }
        let file = path + "/file"
        try Data().write(to: URL(fileURLWithPath: file))
        let loaded = LoadedCatalog.load(directory: file, logger: logger)
        #expect(loaded.problems.count == 1)
        #expect(loaded.catalog.definitions.count == 1)
    }
}

import CairnProviders
import Foundation
import Logging

/// The provider catalog a server runs with: the built-in definitions plus
/// the `*.json` files of `<data-dir>/providers.d/`, and what was wrong with
/// the files that could not be used.
public struct LoadedCatalog: Sendable {
    public let catalog: ProviderCatalog
    /// One line per file that was skipped, e.g. `providers.d/x.json: missingMember: …`.
    public let problems: [String]

    /// Reads `providers.d/` in file-name order. A missing directory is an
    /// empty one. A file that is not a valid definition, or whose
    /// providerId is already taken (by a built-in or an earlier file), is
    /// skipped and reported; it never stops the server.
    public static func load(directory: String, logger: Logger) -> LoadedCatalog {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
                .filter { $0.hasSuffix(".json") && !$0.hasPrefix(".") }.sorted()
        } catch CocoaError.fileReadNoSuchFile {
            return LoadedCatalog(catalog: ProviderCatalog(), problems: [])
        } catch {
            let problem = "providers.d: cannot read the directory: \(error.localizedDescription)"
            logger.error("provider definitions not loaded", metadata: ["problem": "\(problem)"])
            return LoadedCatalog(catalog: ProviderCatalog(), problems: [problem])
        }
        var definitions: [ProviderDefinition] = []
        var taken = Set(ProviderCatalog.builtIn.map(\.providerId))
        var problems: [String] = []
        for name in names {
            let path = (directory as NSString).appendingPathComponent(name)
            let problem: String
            do {
                let definition = try ProviderDefinition.parse(try readDefinition(path))
                guard taken.insert(definition.providerId).inserted else {
                    problems.append("providers.d/\(name): providerId \(definition.providerId) is already defined")
                    continue
                }
                definitions.append(definition)
                continue
            } catch let error as ProviderDefinitionError {
                problem = "providers.d/\(name): \(error.code): \(error.message)"
            } catch {
                problem = "providers.d/\(name): cannot read the file: \(error.localizedDescription)"
            }
            problems.append(problem)
        }
        for problem in problems {
            logger.error("provider definition skipped", metadata: ["problem": "\(problem)"])
        }
        if !definitions.isEmpty {
            logger.info(
                "provider definitions loaded", metadata: ["providers": "\(definitions.map(\.providerId))"])
        }
        return LoadedCatalog(catalog: ProviderCatalog(additional: definitions), problems: problems)
    }

    /// The largest definition file read: definitions are small, and the server reads nothing unbounded.
    static let maxFileBytes = 1 << 20

    private static func readDefinition(_ path: String) throws -> Data {
        let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        let data = try handle.read(upToCount: maxFileBytes + 1) ?? Data()
        guard data.count <= maxFileBytes else {
            throw ProviderDefinitionError(.invalidJSON, "the file is larger than \(maxFileBytes) bytes")
        }
        return data
    }
}

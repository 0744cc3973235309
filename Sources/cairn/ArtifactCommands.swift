import ArgumentParser
import CairnClient
import CairnProtocol

/// `cairn meta ID`: one artifact's meta.
struct Meta: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "meta", abstract: "Show an artifact's meta.")

    @OptionGroup var client: ClientOptions
    @OptionGroup var tenant: TenantOptions

    @Argument(help: ArgumentHelp("The artifact id.", valueName: "id"))
    var id: String

    func validate() throws {
        _ = try Names.artifactId(id)
    }

    func run() async throws {
        let artifactId = try Names.artifactId(id)
        let meta = try await client.withClient { try await $0.meta(tenant: tenant.name, artifactId: artifactId) }
        if client.json {
            Output.json(meta.json)
        } else {
            printMeta(meta)
        }
    }
}

/// `cairn rm ID`: deletes an artifact.
struct Remove: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rm",
        abstract: "Delete an artifact.",
        discussion: """
            Prints whether the content's blob was freed too (it stays while another artifact of the \
            tenant has the same sha256). A provider configuration that references the artifact makes \
            the server refuse with ARTIFACT_IN_USE.
            """
    )

    @OptionGroup var client: ClientOptions
    @OptionGroup var tenant: TenantOptions

    @Argument(help: ArgumentHelp("The artifact id.", valueName: "id"))
    var id: String

    func validate() throws {
        _ = try Names.artifactId(id)
    }

    func run() async throws {
        let params = JSONObject([("tenant", .string(tenant.name)), ("artifactId", .string(try Names.artifactId(id)))])
        let result = try await client.withClient { try await $0.call(Methods.artifactsDelete.name, params).result }
        if client.json {
            Output.json(result)
        } else {
            Output.fields([
                ("artifactId", Output.text(result["artifactId"] ?? .null)),
                ("deleted", Output.text(result["deleted"] ?? .null)),
                ("blobFreed", Output.text(result["blobFreed"] ?? .null)),
            ])
        }
    }
}

/// `cairn stat DIGEST`: what the tenant holds under a sha256.
struct Stat: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stat",
        abstract:
            "Show what the tenant stores under a sha256: size, first stored, the artifacts that share it, and the configuration fields that reference them."
    )

    @OptionGroup var client: ClientOptions
    @OptionGroup var tenant: TenantOptions

    @Argument(help: ArgumentHelp("The sha256: 64 hex digits, optionally prefixed with sha256:.", valueName: "digest"))
    var digest: String

    func validate() throws {
        _ = try Names.digest(digest)
    }

    func run() async throws {
        let params = JSONObject([("tenant", .string(tenant.name)), ("sha256", .string(try Names.digest(digest)))])
        let result = try await client.withClient { try await $0.call(Methods.blobsStat.name, params).result }
        if client.json {
            Output.json(result)
            return
        }
        let ids = result["artifactIds"]?.arrayValue?.compactMap(\.stringValue) ?? []
        var lines: [(String, String)] = [
            ("sha256", Output.text(result["sha256"] ?? .null)),
            ("sizeBytes", Output.bytesField(result["sizeBytes"])),
            ("storedAt", Output.text(result["storedAt"] ?? .null)),
            ("artifactIds", ids.first ?? "none"),
        ]
        lines += ids.dropFirst().map { ("", $0) }
        let references = (result["references"]?.arrayValue ?? []).map { reference in
            "\(Output.text(reference["providerId"] ?? .null)) \(Output.text(reference["field"] ?? .null)) (\(Output.text(reference["artifactId"] ?? .null)))"
        }
        lines.append(("referencedBy", references.first ?? "no provider configuration"))
        lines += references.dropFirst().map { ("", $0) }
        Output.fields(lines)
    }
}

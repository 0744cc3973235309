import ArgumentParser
import CairnClient
import CairnProtocol

/// `cairn hello`: the server's version, limits, and what the caller may do.
struct Hello: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hello",
        abstract: "Show the server's version, capabilities and limits, and the caller's grants.",
        discussion: "Needs no tenant and no grant."
    )

    @OptionGroup var client: ClientOptions

    func run() async throws {
        let result = try await client.withClient { try await $0.hello() }
        if client.json {
            Output.json(result)
            return
        }
        let limits = result["limits"]
        let grants: [String] =
            result["grants"]?.arrayValue?.map { grant in
                let scopes = grant["scopes"]?.arrayValue?.compactMap(\.stringValue) ?? []
                return "\(grant["tenant"]?.stringValue ?? "?"): \(scopes.joined(separator: ", "))"
            } ?? []
        var lines: [(String, String)] = [
            ("server", Output.text(result["server"] ?? .null)),
            ("version", Output.text(result["version"] ?? .null)),
            ("protocol", Output.text(result["protocol"] ?? .null)),
            ("capabilities", Output.text(result["capabilities"] ?? .null)),
            ("maxRequestBytes", Output.bytesField(limits?["maxRequestBytes"])),
            ("maxChunkBytes", Output.bytesField(limits?["maxChunkBytes"])),
            ("maxArtifactBytes", Output.bytesField(limits?["maxArtifactBytes"])),
            (
                "peer",
                "uid \(Output.text(result["peer"]?["uid"] ?? .null)), gid \(Output.text(result["peer"]?["gid"] ?? .null))"
            ),
            ("grants", grants.first ?? "none"),
        ]
        lines += grants.dropFirst().map { ("", $0) }
        Output.fields(lines)
    }
}

/// `cairn health`: the server's store status.
struct Health: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "health",
        abstract: "Show the server's health: status, store size, free disk, open uploads, problems.",
        discussion: """
            Needs no tenant and no grant. Exits 0 whenever the server answers, also when its status \
            is degraded; the problems are listed. The figures and problems describe every tenant \
            together, so the server shows them only to a user with the admin scope on every tenant; \
            others see the status and the layout version.
            """
    )

    @OptionGroup var client: ClientOptions

    func run() async throws {
        let result = try await client.withClient { try await $0.call(Methods.systemHealth.name).result }
        if client.json {
            Output.json(result)
            return
        }
        var lines: [(String, String)] = [
            ("status", Output.text(result["status"] ?? .null)),
            ("layoutVersion", Output.text(result["layoutVersion"] ?? .null)),
        ]
        if let store = result["store"]?.objectValue {
            for key in store.keys {
                let value = store[key] ?? .null
                lines.append((key, key.hasSuffix("Bytes") ? Output.bytesField(value) : Output.text(value)))
            }
        }
        if let problems = result["problems"]?.arrayValue?.map(Output.text) {
            lines.append(("problems", problems.first ?? "none"))
            lines += problems.dropFirst().map { ("", $0) }
        }
        Output.fields(lines)
    }
}

import ArgumentParser
import CairnClient
import CairnProtocol
import Foundation

/// `cairn providers …`: the provider catalog, configurations and readiness.
struct Providers: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "providers",
        abstract: "Show and change provider configurations, and check their readiness.",
        subcommands: [
            ProvidersList.self, ProvidersShow.self, ProvidersReadiness.self, ProvidersArtifacts.self,
            ProvidersConfigure.self,
        ]
    )
}

/// The provider argument of the `providers` subcommands.
struct ProviderArgument: ParsableArguments {
    @Argument(help: ArgumentHelp("The provider id, e.g. excititor:oci-openvex.", valueName: "provider"))
    var id: String

    func validate() throws {
        guard Names.isProvider(id) else {
            throw ValidationError("'\(id)' is not a provider id (^[a-z0-9][a-z0-9._:-]{0,127}$)")
        }
    }
}

/// `cairn providers list`: the catalog.
struct ProvidersList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List the providers the server knows, with their fields.")

    @OptionGroup var client: ClientOptions

    @Flag(help: "Also list each provider's fields.")
    var fields = false

    func run() async throws {
        let providers = try await client.withClient { try await $0.providers() }
        if client.json {
            Output.json(.array(providers))
            return
        }
        if !fields {
            Output.table(
                ["PROVIDER", "NAME", "FIELDS"],
                providers.map {
                    [
                        $0["providerId"]?.stringValue ?? "", $0["displayName"]?.stringValue ?? "",
                        String($0["fields"]?.arrayValue?.count ?? 0),
                    ]
                }, rightAligned: [2])
            return
        }
        for (index, provider) in providers.enumerated() {
            if index > 0 { Output.line("") }
            Output.line(
                "\(Output.text(provider["providerId"] ?? .null))  \(Output.text(provider["displayName"] ?? .null))")
            printFields(provider)
        }
    }
}

/// Prints a provider definition's fields as a table.
func printFields(_ definition: JSONValue) {
    let rows: [[String]] = (definition["fields"]?.arrayValue ?? []).map { field in
        var flags: [String] = []
        if field["required"] == .bool(true) { flags.append("required") }
        if field["secret"] == .bool(true) { flags.append("secret") }
        if let allowed = field["allowedValues"]?.arrayValue {
            flags.append("one of " + allowed.map(Output.text).joined(separator: "|"))
        }
        return [
            field["key"]?.stringValue ?? "", field["shape"]?.stringValue ?? "", flags.joined(separator: ", "),
            field["description"]?.stringValue ?? "",
        ]
    }
    Output.table(["FIELD", "SHAPE", "FLAGS", "DESCRIPTION"], rows)
}

/// `cairn providers show P`: the tenant's configuration of a provider.
struct ProvidersShow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show a provider's configuration in the tenant, and its readiness.",
        discussion: "Secret values are never shown: a set secret reads (set). --json prints the snapshot.")

    @OptionGroup var client: ClientOptions
    @OptionGroup var tenant: TenantOptions
    @OptionGroup var provider: ProviderArgument

    func run() async throws {
        let snapshot = try await client.withClient {
            try await $0.providerConfiguration(tenant: tenant.name, providerId: provider.id)
        }
        if client.json {
            Output.json(snapshot)
        } else {
            printSnapshot(snapshot)
        }
    }
}

/// Prints a configuration snapshot: header, one row per set field (secrets as `(set)`), the unset
/// fields on one line, then readiness.
func printSnapshot(_ snapshot: JSONValue) {
    Output.fields([
        ("provider", Output.text(snapshot["providerId"] ?? .null)),
        ("tenant", Output.text(snapshot["tenant"] ?? .null)),
        ("revision", Output.text(snapshot["revision"] ?? .null)),
        ("updatedAt", Output.text(snapshot["updatedAt"] ?? .null)),
        ("updatedBy", Output.text(snapshot["updatedBy"] ?? .null)),
    ])
    Output.line("")
    var rows: [[String]] = []
    var unset: [String] = []
    for field in snapshot["fields"]?.arrayValue ?? [] {
        let key = field["key"]?.stringValue ?? ""
        let shape = field["shape"]?.stringValue ?? ""
        let items: [String]
        switch field["value"] {
        case .string(let text)?: items = [text]
        case .array(let values)?: items = values.map(Output.text)
        case .object?: items = ["(set)"]
        default:
            unset.append(key)
            continue
        }
        for (index, item) in items.enumerated() {
            rows.append(index == 0 ? [key, shape, item] : ["", "", item])
        }
    }
    if rows.isEmpty {
        Output.line("no field is set")
    } else {
        Output.table(["FIELD", "SHAPE", "VALUE"], rows)
    }
    if !unset.isEmpty { Output.line("unset: " + unset.joined(separator: ", ")) }
    Output.line("")
    printReadiness(snapshot["readiness"] ?? .null)
}

/// Prints `readiness: ready`, or `readiness: blocked (CODE)` and one line per issue.
func printReadiness(_ readiness: JSONValue) {
    guard readiness["ready"] != .bool(true) else {
        Output.line("readiness: ready")
        return
    }
    Output.line("readiness: blocked (\(Output.text(readiness["code"] ?? .null)))")
    let issues = readiness["issues"]?.arrayValue ?? []
    Output.table(
        ["SUB-CODE", "FIELD", "MESSAGE"],
        issues.map {
            [$0["subCode"]?.stringValue ?? "", $0["field"]?.stringValue ?? "", $0["message"]?.stringValue ?? ""]
        })
}

/// `cairn providers readiness P`: exit status 5 when blocked.
struct ProvidersReadiness: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "readiness",
        abstract: "Check whether a provider's configuration can run.",
        discussion: """
            Prints ready, or blocked with the envelope code and every sub-code with its field and \
            message. Referenced artifacts are read back and verified by the server. Exit status: 0 \
            ready, 5 blocked (other statuses as for every command).
            """)

    @OptionGroup var client: ClientOptions
    @OptionGroup var tenant: TenantOptions
    @OptionGroup var provider: ProviderArgument

    func run() async throws {
        let readiness = try await client.withClient {
            try await $0.readiness(tenant: tenant.name, providerId: provider.id)
        }
        if client.json {
            Output.json(readiness)
        } else {
            printReadiness(readiness)
        }
        if readiness["ready"] != .bool(true) { throw Failure.Status.blocked }
    }
}

/// `cairn providers artifacts P`: the artifacts staged for a provider.
struct ProvidersArtifacts: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "artifacts", abstract: "List the tenant's artifacts staged for a provider.")

    @OptionGroup var client: ClientOptions
    @OptionGroup var tenant: TenantOptions
    @OptionGroup var paging: PagingOptions
    @OptionGroup var provider: ProviderArgument

    func run() async throws {
        try await List.listArtifacts(client: client, tenant: tenant.name, provider: provider.id, paging: paging)
    }
}

import ArgumentParser
import CairnClient
import CairnProtocol

/// `cairn usage`: the tenant's usage and quotas.
struct Usage: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "usage",
        abstract: "Show the tenant's artifact count, bytes and quotas.",
        discussion: """
            logicalBytes is the sum of the artifacts' sizes; storedBytes counts each distinct content \
            once and is what the byte quota limits.
            """
    )

    @OptionGroup var client: ClientOptions
    @OptionGroup var tenant: TenantOptions

    func run() async throws {
        let params = JSONObject([("tenant", .string(tenant.name))])
        let result = try await client.withClient { try await $0.call(Methods.tenantsUsage.name, params).result }
        printUsage(result, json: client.json)
    }
}

/// `cairn quota`: the group of quota subcommands.
struct Quota: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quota",
        abstract: "Change the tenant's quotas.",
        subcommands: [SetQuota.self]
    )
}

/// `cairn quota set`: sets or removes the tenant's quotas.
struct SetQuota: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set",
        abstract: "Set or remove the tenant's byte and artifact quotas.",
        discussion: """
            Give at least one of the options; an option left out leaves that quota as it is, and \
            `none` removes it. Sizes take an optional K, M, G or T suffix (powers of 1024). \
            A quota below the current usage is accepted; it refuses further writes.
            """
    )

    @OptionGroup var client: ClientOptions
    @OptionGroup var tenant: TenantOptions

    @Option(
        help: ArgumentHelp("The most bytes of distinct content the tenant may store, or none.", valueName: "n|none"))
    var maxBytes: QuotaLimit?

    @Option(help: ArgumentHelp("The most artifacts the tenant may hold, or none.", valueName: "n|none"))
    var maxArtifacts: QuotaLimit?

    func validate() throws {
        guard maxBytes != nil || maxArtifacts != nil else {
            throw ValidationError("give --max-bytes, --max-artifacts or both")
        }
        if case .limit(let value)? = maxArtifacts, value.hasUnit {
            throw ValidationError("--max-artifacts counts artifacts; it takes no size suffix")
        }
    }

    func run() async throws {
        var params = JSONObject([("tenant", .string(tenant.name))])
        if let maxBytes { params["maxBytes"] = maxBytes.json }
        if let maxArtifacts { params["maxArtifacts"] = maxArtifacts.json }
        let result = try await client.withClient { try await $0.call(Methods.tenantsSetQuota.name, params).result }
        printUsage(result, json: client.json)
    }
}

/// A quota value on the command line: a count (bytes with an optional binary suffix) or `none`.
enum QuotaLimit: ExpressibleByArgument, Equatable {
    /// A number, and whether it was written with a size suffix.
    struct Value: Equatable {
        var count: UInt64
        var hasUnit: Bool
    }

    case none
    case limit(Value)

    init?(argument: String) {
        let text = argument.lowercased()
        if text == "none" {
            self = .none
            return
        }
        let units: [(String, UInt64)] = [
            ("kib", 1 << 10), ("mib", 1 << 20), ("gib", 1 << 30), ("tib", 1 << 40),
            ("k", 1 << 10), ("m", 1 << 20), ("g", 1 << 30), ("t", 1 << 40),
        ]
        var digits = Substring(text)
        var multiplier: UInt64 = 1
        for (suffix, factor) in units where text.hasSuffix(suffix) {
            digits = digits.dropLast(suffix.count)
            multiplier = factor
            break
        }
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), let count = UInt64(digits) else { return nil }
        let (value, overflow) = count.multipliedReportingOverflow(by: multiplier)
        guard !overflow, value <= UInt64(Int64.max) else { return nil }
        self = .limit(Value(count: value, hasUnit: multiplier != 1))
    }

    /// The value of `tenants.setQuota`'s param: a number, or `null` to remove the quota.
    var json: JSONValue {
        switch self {
        case .none: .null
        case .limit(let value): .number(JSONNumber(value.count))
        }
    }

    static var defaultCompletionKind: CompletionKind { .list(["none"]) }
}

/// Prints a `tenants.usage`-shaped result.
func printUsage(_ result: JSONValue, json: Bool) {
    if json {
        Output.json(result)
        return
    }
    Output.fields([
        ("tenant", Output.text(result["tenant"] ?? .null)),
        ("artifactCount", Output.text(result["artifactCount"] ?? .null)),
        ("logicalBytes", Output.bytesField(result["logicalBytes"])),
        ("storedBytes", Output.bytesField(result["storedBytes"])),
        ("maxBytes", Output.bytesField(result["quota"]?["maxBytes"])),
        ("maxArtifacts", Output.text(result["quota"]?["maxArtifacts"] ?? .null)),
    ])
}

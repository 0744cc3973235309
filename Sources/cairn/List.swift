import ArgumentParser
import CairnClient
import CairnProtocol

/// `cairn ls`: the tenant's artifacts, in the server's stable listing order.
struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ls",
        abstract: "List the tenant's artifacts, oldest first.",
        discussion: """
            Pages through artifacts.list until the end (or --limit). The table shows the first 12 hex \
            digits of each sha256; --json prints one artifact meta per line (JSON Lines).
            """
    )

    @OptionGroup var client: ClientOptions
    @OptionGroup var tenant: TenantOptions
    @OptionGroup var paging: PagingOptions

    @Option(help: ArgumentHelp("Only artifacts staged for this provider.", valueName: "id"))
    var provider: String?

    func validate() throws {
        if let provider, !Names.isProvider(provider) {
            throw ValidationError("'\(provider)' is not a provider id (^[a-z0-9][a-z0-9._:-]{0,127}$)")
        }
    }

    func run() async throws {
        try await Self.listArtifacts(client: client, tenant: tenant.name, provider: provider, paging: paging)
    }

    /// Prints the tenant's artifacts (optionally of one provider) as a table, or as JSON Lines with `--json`.
    static func listArtifacts(
        client: ClientOptions, tenant: String, provider: String?, paging: PagingOptions
    ) async throws {
        var params = JSONObject([("tenant", .string(tenant))])
        if let provider { params["providerId"] = .string(provider) }
        var rows: [[String]] = []
        try await client.withClient { connection in
            try await paging.forEachPage(of: Methods.artifactsList.name, params, items: "artifacts", on: connection) {
                page in
                for meta in page {
                    if client.json {
                        Output.json(meta)
                    } else {
                        let sha = meta["sha256"]?.stringValue ?? ""
                        rows.append([
                            meta["artifactId"]?.stringValue ?? "", meta["providerId"]?.stringValue ?? "",
                            meta["sizeBytes"]?.uint64.map(Output.bytes) ?? "?", String(sha.prefix(12)),
                            meta["stagedAt"]?.stringValue ?? "", meta["mimeType"]?.stringValue ?? "",
                        ])
                    }
                }
            }
        }
        if !client.json {
            Output.table(["ID", "PROVIDER", "SIZE", "SHA256", "STAGED AT", "MIME"], rows, rightAligned: [2])
        }
    }
}

/// `--limit N` and `--all` of the listing subcommands.
///
/// Without either, every page is fetched; `--limit N` stops after N items.
struct PagingOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Show at most this many (default: all).", valueName: "n"))
    var limit: Int?

    @Flag(help: "Show all, fetching every page (the default).")
    var all = false

    /// The largest page the contract allows.
    static let maxPage = 1000

    func validate() throws {
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
        if all, limit != nil { throw ValidationError("--all and --limit exclude each other") }
    }

    /// Calls a paged method (`cursor` in, `nextCursor` out) until the last page or `--limit`,
    /// handing each page's `items` array to `body`.
    func forEachPage(
        of method: String, _ params: JSONObject, items key: String, on connection: CairnClient,
        _ body: ([JSONValue]) throws -> Void
    ) async throws {
        var params = params
        var remaining = limit ?? .max
        while remaining > 0 {
            params["limit"] = .number(JSONNumber(min(remaining, Self.maxPage)))
            let result = try await connection.call(method, params).result
            guard let items = result[key]?.arrayValue else {
                throw CairnClientError.protocolViolation("\(method) without \(key)")
            }
            let page = Array(items.prefix(remaining))
            try body(page)
            remaining -= page.count
            guard let cursor = result["nextCursor"]?.stringValue, !items.isEmpty else { return }
            params["cursor"] = .string(cursor)
        }
    }
}

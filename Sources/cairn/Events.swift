import ArgumentParser
import CairnClient
import CairnProtocol

/// `cairn events`: the tenant's audit log.
struct Events: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events",
        abstract: "Show the tenant's audit events, oldest first.",
        discussion: """
            Pages through events.list until the end (or --limit). --json prints one event per line \
            (JSON Lines).
            """
    )

    @OptionGroup var client: ClientOptions
    @OptionGroup var tenant: TenantOptions
    @OptionGroup var paging: PagingOptions

    func run() async throws {
        let params = JSONObject([("tenant", .string(tenant.name))])
        var rows: [[String]] = []
        try await client.withClient { connection in
            try await paging.forEachPage(of: Methods.eventsList.name, params, items: "events", on: connection) { page in
                for event in page {
                    if client.json {
                        Output.json(event)
                        continue
                    }
                    var details: [String] = []
                    if let provider = event["providerId"]?.stringValue { details.append("provider \(provider)") }
                    if let sha = event["sha256"]?.stringValue { details.append("sha256 \(sha.prefix(12))") }
                    if let detail = event["detail"] { details.append(Output.text(detail)) }
                    rows.append([
                        Output.text(event["seq"] ?? .null), event["at"]?.stringValue ?? "",
                        event["actor"]?.stringValue ?? "", event["action"]?.stringValue ?? "",
                        event["artifactId"]?.stringValue ?? "-", details.joined(separator: ", "),
                    ])
                }
            }
        }
        if !client.json {
            Output.table(["SEQ", "AT", "ACTOR", "ACTION", "ARTIFACT", "DETAIL"], rows, rightAligned: [0])
        }
    }
}

import ArgumentParser
import CairnClient
import CairnDigest
import CairnManifest
import CairnProtocol
import Foundation

/// `cairn manifest`: the tenant's deterministic manifest and its digest.
struct ManifestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "manifest",
        abstract: "Print the tenant's deterministic manifest and its digest.",
        discussion: """
            Prints the canonical manifest (docs/auditing.md) and, on a last line, `digest sha256:HEX`: the \
            SHA-256 of every line before it, so `cairn manifest | sed '$d' | sha256sum` recomputes it. The \
            CLI rebuilds the canonical text from the server's facts and checks the server's digest against \
            it. --json prints the server's manifest object (tenants.manifest).
            """
    )

    @OptionGroup var client: ClientOptions
    @OptionGroup var tenant: TenantOptions

    func run() async throws {
        let result = try await client.withClient {
            try await $0.call(Methods.tenantsManifest.name, JSONObject([("tenant", .string(tenant.name))])).result
        }
        let manifest: TenantManifest
        do {
            manifest = try ManifestCoding.decode(result)
        } catch {
            throw LocalFailure("the server's manifest does not check out: \(error)")
        }
        if client.json {
            Output.json(result)
        } else {
            print(manifest.canonicalText, terminator: "")
            Output.line("digest sha256:\(manifest.digest.hex)")
        }
    }
}

/// `cairn verify`: an integrity audit of a tenant's blobs, or of its audit chain; of every tenant the
/// caller may read when none is named.
struct Verify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check stored blobs against their sha256 (or audit chains, with --events).",
        discussion: """
            Re-reads every blob the tenant holds (blobs.verify, page by page), one blob (--digest), or a \
            random PERCENT of them (--subset), and names every corrupt blob with the artifacts and provider \
            configuration fields it affects. --events checks the tenant's audit chain instead \
            (events.verify), against the chain head recorded in a backup's or an export's manifest when \
            --anchor names one. Without --tenant or CAIRN_TENANT, checks every tenant the caller may read \
            (tenants.list), one report per tenant. Exit status: 0 clean, 1 corruption found (in any \
            tenant), 2 could not check (a tenant, or at all).
            """
    )

    @OptionGroup var client: ClientOptions

    @Option(
        help: ArgumentHelp(
            "The tenant to check (default: $CAIRN_TENANT, else every tenant the caller may read).", valueName: "name"))
    var tenant: String?

    @Option(help: ArgumentHelp("Check only the blob with this sha256.", valueName: "digest"))
    var digest: String?

    @Option(help: ArgumentHelp("Check a random PERCENT (1-100) of the tenant's blobs.", valueName: "percent"))
    var subset: Double?

    @Flag(help: "Check the tenant's audit chain instead of its blobs.")
    var events = false

    @Option(
        help: ArgumentHelp(
            "With --events: a MANIFEST.json, EXPORT.json or `cairn manifest --json` output whose chain head the log must still contain.",
            valueName: "file"))
    var anchor: String?

    @Option(
        help: ArgumentHelp(
            "Check a backup in a repository instead: s3://BUCKET/PREFIX[#BACKUP_ID] (the newest when no id is given).",
            valueName: "s3-url"))
    var remote: String?

    @OptionGroup var repository: RepositoryOptions

    static let corruptionFound = ExitCode(1)
    static let couldNotCheck = ExitCode(2)

    /// The tenant named by `--tenant` or `CAIRN_TENANT`, if any.
    private var namedTenant: String? {
        tenant ?? ProcessInfo.processInfo.environment["CAIRN_TENANT"].flatMap { $0.isEmpty ? nil : $0 }
    }

    func validate() throws {
        if remote != nil {
            if tenant != nil || digest != nil || events || anchor != nil {
                throw ValidationError("--remote checks a whole backup: no --tenant, --digest, --events or --anchor")
            }
            if let subset, !(subset > 0 && subset <= 100) {
                throw ValidationError("--subset must be between 0 and 100")
            }
            return
        }
        if let name = namedTenant, !Names.isTenant(name) {
            throw ValidationError("'\(name)' is not a tenant name (^[a-z0-9][a-z0-9._-]{0,62}$)")
        }
        if namedTenant == nil && (digest != nil || anchor != nil) {
            throw ValidationError("--digest and --anchor need a tenant: pass --tenant NAME or set CAIRN_TENANT")
        }
        if let digest { _ = try Names.digest(digest) }
        if let subset, !(subset > 0 && subset <= 100) { throw ValidationError("--subset must be between 0 and 100") }
        if digest != nil && subset != nil { throw ValidationError("give --digest or --subset, not both") }
        if events && (digest != nil || subset != nil) { throw ValidationError("--events checks the log, not blobs") }
        if anchor != nil && !events { throw ValidationError("--anchor goes with --events") }
    }

    func run() async throws {
        if let remote {
            return try await RemoteCommands.verify(
                remote, subset: subset, repository: repository, json: client.json)
        }
        let outcome: (corrupt: Bool, unchecked: Bool)
        do {
            outcome = try await client.withClient { connection in
                var tenants: [String]
                if let namedTenant {
                    tenants = [namedTenant]
                } else {
                    let listed = try await connection.call(Methods.tenantsList.name).result["tenants"]?.arrayValue ?? []
                    tenants = listed.compactMap(\.stringValue)
                }
                var corrupt = false
                var unchecked = false
                for tenant in tenants {
                    do {
                        let clean =
                            events
                            ? try await checkEvents(connection, tenant: tenant)
                            : try await checkBlobs(connection, tenant: tenant)
                        corrupt = corrupt || !clean
                    } catch CairnClientError.server(let error) where namedTenant == nil {
                        // One tenant that cannot be checked (no admin grant for blobs.verify) does not stop the others.
                        Output.error("cairn: tenant \(tenant) not checked: \(error.code.name): \(error.message)")
                        unchecked = true
                    }
                }
                return (corrupt, unchecked)
            }
        } catch let failure as LocalFailure {
            Output.error("cairn: \(failure.message)")
            throw Self.couldNotCheck
        } catch is ExitCode {
            // The client has printed why; whatever it was, nothing was checked to the end.
            throw Self.couldNotCheck
        } catch let error as CairnClientError {
            _ = Failure.report(error, socket: client.socket)
            throw Self.couldNotCheck
        }
        if outcome.corrupt { throw Self.corruptionFound }
        if outcome.unchecked { throw Self.couldNotCheck }
    }

    // MARK: - Blobs

    private struct Tally {
        var checkedBlobs = 0
        var checkedBytes: UInt64 = 0
        var corrupt: [JSONValue] = []
    }

    private func checkBlobs(_ connection: CairnClient, tenant: String) async throws -> Bool {
        var tally = Tally()
        let base = JSONObject([("tenant", .string(tenant))])
        if let digest {
            var params = base
            params["sha256"] = .string(try Names.digest(digest))
            add(try await connection.call(Methods.blobsVerify.name, params).result, to: &tally)
        } else if let subset {
            let chosen = try await sample(connection, tenant: tenant, percent: subset)
            var progress = ProgressBar(
                label: "verify \(tenant)", total: chosen.reduce(0) { $0 + $1.1 },
                enabled: ProgressBar.shouldShow(json: client.json))
            defer { progress.interrupt() }
            for (sha256, _) in chosen {
                var params = base
                params["sha256"] = .string(sha256)
                add(try await connection.call(Methods.blobsVerify.name, params).result, to: &tally)
                progress.update(tally.checkedBytes)
            }
            progress.finish()
        } else {
            let usage = try await connection.call(Methods.tenantsUsage.name, base).result
            var progress = ProgressBar(
                label: "verify \(tenant)", total: usage["storedBytes"]?.uint64,
                enabled: ProgressBar.shouldShow(json: client.json))
            defer { progress.interrupt() }
            var cursor: JSONValue = .null
            repeat {
                var params = base
                params["maxBytes"] = .number(JSONNumber(64 << 20))
                if cursor != .null { params["cursor"] = cursor }
                let page = try await connection.call(Methods.blobsVerify.name, params).result
                add(page, to: &tally)
                progress.update(tally.checkedBytes)
                cursor = page["nextCursor"] ?? .null
            } while cursor != .null
            progress.finish()
        }
        report(tally, tenant: tenant)
        return tally.corrupt.isEmpty
    }

    private func add(_ page: JSONValue, to tally: inout Tally) {
        tally.checkedBlobs += page["checkedBlobs"]?.uint64.map(Int.init) ?? 0
        tally.checkedBytes += page["checkedBytes"]?.uint64 ?? 0
        tally.corrupt += page["corrupt"]?.arrayValue ?? []
    }

    /// A random `percent` of the tenant's distinct contents (at least one), with their sizes.
    private func sample(_ connection: CairnClient, tenant: String, percent: Double) async throws -> [(String, UInt64)] {
        var sizes: [String: UInt64] = [:]
        var cursor: JSONValue = .null
        repeat {
            var params = JSONObject([("tenant", .string(tenant)), ("limit", 1000)])
            if cursor != .null { params["cursor"] = cursor }
            let page = try await connection.call(Methods.artifactsList.name, params).result
            for meta in page["artifacts"]?.arrayValue ?? [] {
                if let sha256 = meta["sha256"]?.stringValue { sizes[sha256] = meta["sizeBytes"]?.uint64 ?? 0 }
            }
            cursor = page["nextCursor"] ?? .null
        } while cursor != .null
        guard !sizes.isEmpty else { return [] }
        let count = max(1, Int((Double(sizes.count) * percent / 100).rounded(.up)))
        return Array(sizes.sorted { $0.key < $1.key }.shuffled().prefix(count))
    }

    private func report(_ tally: Tally, tenant: String) {
        if client.json {
            Output.json(
                .object(
                    JSONObject([
                        ("tenant", .string(tenant)), ("checkedBlobs", .number(JSONNumber(tally.checkedBlobs))),
                        ("checkedBytes", .number(JSONNumber(tally.checkedBytes))), ("corrupt", .array(tally.corrupt)),
                        ("clean", .bool(tally.corrupt.isEmpty)),
                    ])))
            return
        }
        for blob in tally.corrupt {
            let ids = blob["artifactIds"]?.arrayValue?.compactMap(\.stringValue) ?? []
            let references = (blob["references"]?.arrayValue ?? []).map { reference in
                "\(reference["providerId"]?.stringValue ?? "?") \(reference["field"]?.stringValue ?? "?") (\(reference["artifactId"]?.stringValue ?? "?"))"
            }
            Output.line("CORRUPT sha256:\(blob["sha256"]?.stringValue ?? "?")")
            Output.line("  artifacts:  \(ids.isEmpty ? "none" : ids.joined(separator: ", "))")
            Output.line(
                "  referenced: \(references.isEmpty ? "by no provider configuration" : references.joined(separator: ", "))"
            )
        }
        let verdict = tally.corrupt.isEmpty ? "clean" : "\(tally.corrupt.count) corrupt"
        Output.line(
            "checked \(tally.checkedBlobs) blob\(tally.checkedBlobs == 1 ? "" : "s"), \(Output.exactBytes(tally.checkedBytes)) of tenant \(tenant): \(verdict)"
        )
    }

    // MARK: - Events

    private func checkEvents(_ connection: CairnClient, tenant: String) async throws -> Bool {
        var params = JSONObject([("tenant", .string(tenant))])
        if let anchor { params["anchor"] = try anchorHead(anchor, tenant: tenant) }
        let result = try await connection.call(Methods.eventsVerify.name, params).result
        let problems = result["problems"]?.arrayValue ?? []
        if client.json {
            Output.json(result)
        } else {
            for problem in problems {
                Output.line(
                    "BROKEN event \(Output.text(problem["seq"] ?? .null)): \(problem["message"]?.stringValue ?? "")")
            }
            let head = result["head"]
            Output.line(
                "checked \(Output.text(result["checkedEvents"] ?? .null)) events of tenant \(tenant), chain head \(Output.text(head?["seq"] ?? .null)) \(Output.text(head?["sha256"] ?? .null)): \(problems.isEmpty ? "intact" : "\(problems.count) problem\(problems.count == 1 ? "" : "s")")"
            )
        }
        return problems.isEmpty && result["intact"] == .bool(true)
    }

    /// The tenant's chain head from a manifest file: a backup's MANIFEST.json (its tenant entry), an
    /// export's EXPORT.json (its manifest), or a tenant manifest object.
    private func anchorHead(_ path: String, tenant: String) throws -> JSONValue {
        guard let data = FileManager.default.contents(atPath: path) else { throw LocalFailure("cannot read \(path)") }
        let json: JSONValue
        do { json = try JSONParser.parse(Array(data)) } catch { throw LocalFailure("\(path) is not JSON") }
        let candidates = (json["tenants"]?.arrayValue ?? []) + [json["manifest"] ?? .null, json]
        guard let manifest = candidates.first(where: { $0["tenant"]?.stringValue == tenant }),
            let events = manifest["events"]
        else { throw LocalFailure("\(path) records no audit chain head of tenant \(tenant)") }
        return .object(JSONObject([("seq", events["seq"] ?? .null), ("sha256", events["head"] ?? .null)]))
    }
}

import ArgumentParser
import CairnClient
import CairnProtocol
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `cairn providers configure P …`: one `providers.config.set`, after uploading the files it names.
struct ProvidersConfigure: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "configure",
        abstract: "Change a provider's configuration in one all-or-nothing step.",
        discussion: """
            Every option contributes to a single providers.config.set: either all of it is stored, or \
            none (files uploaded for it are deleted again when the server refuses the change). \
            --upload-artifact KEY=@PATH uploads the file for the provider and references it; for a \
            list<artifactRef> field each use appends to the list as stored (add --clear-artifact KEY \
            to start it afresh). --set on a list<string> field takes a JSON array or newline-separated \
            items, and repeated --set of such a field builds an array. Prints the new configuration \
            and its readiness; exit status 0 whenever the change was stored, even if readiness is \
            blocked (use `cairn providers readiness`).
            """)

    @OptionGroup var client: ClientOptions
    @OptionGroup var tenant: TenantOptions
    @OptionGroup var provider: ProviderArgument

    @Option(
        name: .customLong("image"),
        help: ArgumentHelp("An image to subscribe to (repeatable; replaces imageSubscriptions).", valueName: "ref"))
    var images: [String] = []

    @Option(name: .customLong("set"), help: ArgumentHelp("Set a field (repeatable).", valueName: "key=value"))
    var assignments: [String] = []

    @Option(name: .customLong("clear"), help: ArgumentHelp("Clear a field (repeatable).", valueName: "key"))
    var clears: [String] = []

    @Option(
        name: .customLong("upload-artifact"),
        help: ArgumentHelp(
            "Upload a file and reference it from an artifact field (repeatable).", valueName: "key=@path"))
    var uploads: [String] = []

    @Option(
        name: .customLong("clear-artifact"),
        help: ArgumentHelp("Clear an artifact reference field (repeatable).", valueName: "key"))
    var artifactClears: [String] = []

    @Flag(help: "Afterwards, list the artifacts staged for the provider.")
    var listArtifacts = false

    @Option(help: ArgumentHelp("Refuse (CONFLICT) unless the configuration is at this revision.", valueName: "n"))
    var expectedRevision: UInt64?

    @Flag(
        help: ArgumentHelp(
            "Let --set KEY=/absolute/path on an artifact field upload that file (for configurations that named host paths)."
        ))
    var hostPathCompat = false

    func validate() throws {
        for assignment in assignments where !assignment.contains("=") {
            throw ValidationError("--set takes key=value, not '\(assignment)'")
        }
        for upload in uploads {
            guard let equals = upload.firstIndex(of: "="), upload[upload.index(after: equals)...].hasPrefix("@") else {
                throw ValidationError("--upload-artifact takes key=@path, not '\(upload)'")
            }
        }
        let nothing = images.isEmpty && assignments.isEmpty && clears.isEmpty && uploads.isEmpty
        if nothing && artifactClears.isEmpty {
            throw ValidationError(
                "nothing to change: give --image, --set, --clear, --upload-artifact or --clear-artifact")
        }
    }

    func run() async throws {
        try await client.withClient { connection in
            let providers = try await connection.providers()
            guard let definition = providers.first(where: { $0["providerId"] == .string(provider.id) }) else {
                throw LocalFailure(
                    "UNKNOWN_PROVIDER: the server has no provider \(provider.id) (see cairn providers list)")
            }
            var plan = try ConfigurePlan(definition: definition, options: self)
            var current: JSONValue? = nil
            if plan.needsCurrentConfiguration {
                let snapshot = try await connection.providerConfiguration(tenant: tenant.name, providerId: provider.id)
                plan.startFrom(snapshot)
                current = snapshot
            }
            var uploaded: [String] = []
            do {
                for (index, file) in plan.files.enumerated() {
                    let id = try await upload(file.path, on: connection)
                    uploaded.append(id)
                    plan.resolve(file: index, artifactId: id)
                }
                let snapshot = try await connection.setProviderConfiguration(
                    tenant: tenant.name, providerId: provider.id, values: plan.values(), clear: plan.clear,
                    expectedRevision: expectedRevision ?? current?["revision"]?.uint64)
                if client.json {
                    Output.json(snapshot)
                } else {
                    printSnapshot(snapshot)
                }
            } catch {
                // All or nothing: the files uploaded for a refused change go again.
                for id in uploaded {
                    _ = try? await connection.call(
                        Methods.artifactsDelete.name,
                        JSONObject([("tenant", .string(tenant.name)), ("artifactId", .string(id))]))
                }
                throw error
            }
        }
        if listArtifacts {
            if !client.json { Output.line("") }
            try await List.listArtifacts(
                client: client, tenant: tenant.name, provider: provider.id, paging: try PagingOptions.parse([]))
        }
    }

    /// Uploads one file for the provider and returns the new artifact's id.
    private func upload(_ path: String, on connection: CairnClient) async throws -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw LocalFailure.system("cannot open", path) }
        defer { close(fd) }
        let chunk = min(try await connection.maxChunkBytes(), Put.maxChunk)
        let upload = Upload(
            connection: connection, tenant: tenant.name, providerId: provider.id, mimeType: Self.mimeType(of: path),
            chunk: chunk, oneRequest: min(Put.maxOneRequest, chunk, try await connection.maxRequestBytes()),
            expectedSHA256: nil, check: try await TransferCheck.Algorithm.offered(by: connection),
            label: (path as NSString).lastPathComponent, json: client.json)
        return try await upload.stream(fd, path: path).artifactId
    }

    /// A media type from the file name: PEM for keys and certificates, JSON for `.json`, else octet-stream.
    static func mimeType(of path: String) -> String {
        switch (path as NSString).pathExtension.lowercased() {
        case "pem", "pub", "crt", "cer", "key": "application/x-pem-file"
        case "json": "application/json"
        default: "application/octet-stream"
        }
    }
}

/// What one `configure` call changes, worked out from its options and the provider's fields before
/// anything is sent.
struct ConfigurePlan {
    /// A file to upload and where its artifact id goes.
    struct File {
        var key: String
        var path: String
    }

    private var shapes: [String: String] = [:]
    private var scalars = JSONObject()
    private var lists: [String: [JSONValue]] = [:]
    private var listOrder: [String] = []
    /// List fields that start from the stored list (appends) rather than empty.
    private var appendingTo: Set<String> = []
    private var pendingRefs: [(file: Int, key: String)] = []
    private(set) var files: [File] = []
    private(set) var clear: [String] = []

    /// Whether the stored configuration must be read first (to append to a stored list).
    var needsCurrentConfiguration: Bool { !appendingTo.isEmpty }

    init(definition: JSONValue, options: ProvidersConfigure) throws {
        for field in definition["fields"]?.arrayValue ?? [] {
            if let key = field["key"]?.stringValue { shapes[key] = field["shape"]?.stringValue ?? "" }
        }
        let provider = options.provider.id
        func shape(_ key: String, _ option: String) throws -> String {
            guard let shape = shapes[key] else {
                throw UsageFailure("\(option): \(provider) has no field '\(key)' (see cairn providers list --fields)")
            }
            return shape
        }
        var touched: Set<String> = []
        func touch(_ key: String, _ option: String) throws {
            if clear.contains(key) || (touched.contains(key) && !lists.keys.contains(key)) {
                throw UsageFailure("\(option): '\(key)' is set or cleared more than once")
            }
            touched.insert(key)
        }

        if !options.images.isEmpty {
            _ = try shape("imageSubscriptions", "--image")
            try touch("imageSubscriptions", "--image")
            addList("imageSubscriptions", options.images.map(JSONValue.string))
        }
        for assignment in options.assignments {
            let equals = assignment.firstIndex(of: "=")!
            let key = String(assignment[..<equals])
            let value = String(assignment[assignment.index(after: equals)...])
            switch try shape(key, "--set") {
            case "list<string>":
                try touch(key, "--set")
                addList(key, [.string(value)])
            case "artifactRef", "list<artifactRef>":
                try touch(key, "--set")
                let many = shapes[key] == "list<artifactRef>"
                if value.hasPrefix("/") {
                    guard options.hostPathCompat else {
                        throw UsageFailure(
                            "--set \(key)=\(value): \(key) references an artifact; upload the file with "
                                + "--upload-artifact \(key)=@\(value) (or pass --host-path-compat)")
                    }
                    try addFile(key, path: value, many: many)
                } else if many {
                    addList(key, [.string(value)])
                } else {
                    guard scalars[key] == nil else {
                        throw UsageFailure("--set: '\(key)' holds one artifact; give it once")
                    }
                    scalars[key] = .string(value)
                }
            default:
                try touch(key, "--set")
                scalars[key] = .string(value)
            }
        }
        for key in options.clears {
            _ = try shape(key, "--clear")
            guard !touched.contains(key) else { throw UsageFailure("--clear: '\(key)' is also set") }
            try touch(key, "--clear")
            clear.append(key)
        }
        var clearedArtifacts: Set<String> = []
        for key in options.artifactClears {
            guard try shape(key, "--clear-artifact").contains("artifactRef") else {
                throw UsageFailure("--clear-artifact: '\(key)' is not an artifact field; use --clear")
            }
            clearedArtifacts.insert(key)
        }
        for upload in options.uploads {
            let equals = upload.firstIndex(of: "=")!
            let key = String(upload[..<equals])
            let path = String(upload[upload.index(equals, offsetBy: 2)...])
            let fieldShape = try shape(key, "--upload-artifact")
            guard fieldShape.contains("artifactRef") else {
                throw UsageFailure("--upload-artifact: '\(key)' is a \(fieldShape) field, not an artifact field")
            }
            if fieldShape == "list<artifactRef>", !clearedArtifacts.contains(key), !lists.keys.contains(key) {
                appendingTo.insert(key)
            }
            if clear.contains(key) { throw UsageFailure("--upload-artifact: '\(key)' is also cleared") }
            try addFile(key, path: path, many: fieldShape == "list<artifactRef>")
        }
        // --clear-artifact together with new references of the same field replaces the field.
        for key in clearedArtifacts.sorted()
        where !touched.contains(key) && !pendingRefs.contains(where: { $0.key == key }) {
            try touch(key, "--clear-artifact")
            clear.append(key)
        }
    }

    private mutating func addList(_ key: String, _ items: [JSONValue]) {
        if lists[key] == nil { listOrder.append(key) }
        lists[key, default: []] += items
    }

    private mutating func addFile(_ key: String, path: String, many: Bool) throws {
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw LocalFailure("cannot read \(path)")
        }
        if !many {
            guard scalars[key] == nil, !pendingRefs.contains(where: { $0.key == key }) else {
                throw UsageFailure("'\(key)' holds one artifact; give it once")
            }
            scalars[key] = .null
        } else {
            addList(key, [.null])
        }
        pendingRefs.append((files.count, key))
        files.append(File(key: key, path: path))
    }

    /// Puts the stored items of the appended-to lists in front of the new ones.
    mutating func startFrom(_ snapshot: JSONValue) {
        for key in appendingTo {
            let stored =
                snapshot["fields"]?.arrayValue?.first { $0["key"] == .string(key) }?["value"]?.arrayValue ?? []
            // Placeholders of files not uploaded yet are `null`; keep their positions by shifting.
            lists[key] = stored + (lists[key] ?? [])
        }
    }

    /// Records the uploaded artifact of file `index` in its field.
    mutating func resolve(file index: Int, artifactId: String) {
        let key = files[index].key
        if shapes[key] == "list<artifactRef>" {
            if let slot = lists[key]?.firstIndex(of: .null) { lists[key]![slot] = .string(artifactId) }
        } else {
            scalars[key] = .string(artifactId)
        }
    }

    /// The `values` of the `config.set`.
    func values() -> JSONObject {
        var values = scalars
        for key in listOrder { values[key] = .array(lists[key] ?? []) }
        return values
    }
}

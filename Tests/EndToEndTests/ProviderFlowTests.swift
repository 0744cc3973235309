import Foundation
import Testing

/// Runs the four setup flows of docs/providers/oci-openvex.md word for word
/// against a real server: every `$ cairn …` line of a flow's console blocks
/// is run, and its output must be the one the page shows (`<…>` placeholders
/// match one word).
@Suite(.timeLimit(.minutes(2)))
struct ProviderFlowTests {
    /// One command of a session and the output the page shows for it.
    struct Step {
        var command: String
        var expected: [String]
    }

    static let page = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("docs/providers/oci-openvex.md")

    /// The steps of every `## Flow` section, by section title.
    static func flows() throws -> [(title: String, steps: [Step])] {
        let text = try String(contentsOf: page, encoding: .utf8)
        var flows: [(title: String, steps: [Step])] = []
        var inBlock = false
        var pending: String? = nil
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line.hasPrefix("## ") {
                flows.append((String(line.dropFirst(3)), []))
                continue
            }
            if line.hasPrefix("```") {
                inBlock = line == "```console"
                continue
            }
            guard inBlock, !flows.isEmpty, flows[flows.count - 1].title.hasPrefix("Flow") else { continue }
            if let command = pending {
                // A continuation of the previous command line.
                let part = line.trimmingCharacters(in: .whitespaces)
                if part.hasSuffix("\\") {
                    pending = command + " " + part.dropLast().trimmingCharacters(in: .whitespaces)
                } else {
                    flows[flows.count - 1].steps.append(Step(command: command + " " + part, expected: []))
                    pending = nil
                }
            } else if line.hasPrefix("$ ") {
                let command = String(line.dropFirst(2))
                if command.hasSuffix("\\") {
                    pending = command.dropLast().trimmingCharacters(in: .whitespaces)
                } else {
                    flows[flows.count - 1].steps.append(Step(command: command, expected: []))
                }
            } else if !flows[flows.count - 1].steps.isEmpty {
                flows[flows.count - 1].steps[flows[flows.count - 1].steps.count - 1].expected.append(line)
            }
        }
        return flows.filter { $0.title.hasPrefix("Flow") }
    }

    /// Splits a command line into words: spaces separate, double quotes group, `$NAME` expands from `env`.
    static func words(_ command: String, env: [String: String]) -> [String] {
        var words: [String] = []
        var current = ""
        var quoted = false
        var started = false
        var index = command.startIndex
        while index < command.endIndex {
            let character = command[index]
            if character == "\"" {
                quoted.toggle()
                started = true
            } else if character == " " && !quoted {
                if started { words.append(current) }
                current = ""
                started = false
            } else if character == "$" {
                let name = command[command.index(after: index)...].prefix { $0.isLetter || $0 == "_" || $0.isNumber }
                current += env[String(name)] ?? ""
                started = true
                index = command.index(index, offsetBy: name.count)
            } else {
                current.append(character)
                started = true
            }
            index = command.index(after: index)
        }
        if started { words.append(current) }
        return words
    }

    /// The placeholders the page uses for what differs from run to run.
    static let placeholders = ["<time>", "<user>", "<artifact-id>"]

    /// Whether `actual` is `expected` with each placeholder standing for one word.
    static func matches(_ actual: String, _ expected: String) -> Bool {
        var pattern = NSRegularExpression.escapedPattern(for: expected)
        for placeholder in placeholders {
            pattern = pattern.replacingOccurrences(
                of: NSRegularExpression.escapedPattern(for: placeholder), with: "\\S+")
        }
        return actual.wholeMatch(of: try! Regex(pattern)) != nil
    }

    /// The stand-ins for the user's files that the sessions upload.
    static let files: [String: String] = [
        "cosign.pub":
            "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEflowtestkey\n-----END PUBLIC KEY-----\n",
        "trusted_root.json": #"{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}"# + "\n",
        "openvex-bundle.json": #"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}"# + "\n",
        "internal-ca.pem": "-----BEGIN CERTIFICATE-----\nMIIBflowtestca\n-----END CERTIFICATE-----\n",
    ]

    @Test func thePageHasTheFourFlows() throws {
        let titles = try Self.flows().map(\.title)
        #expect(titles.count == 4, "\(titles)")
        for word in ["keyless", "keypair", "TUF", "private registry"] {
            #expect(titles.contains { $0.contains(word) }, "no flow about \(word) in \(titles)")
        }
        for flow in try Self.flows() {
            #expect(flow.steps.last?.command.contains("providers readiness") == true, "\(flow.title)")
        }
    }

    @Test(arguments: 0..<4)
    func flowRunsAsDocumented(_ index: Int) async throws {
        let flows = try Self.flows()
        try #require(flows.count == 4)
        let flow = flows[index]
        let server = try await ServerProcess.start()
        for (name, content) in Self.files {
            try content.write(toFile: server.scratch(name), atomically: true, encoding: .utf8)
        }
        var env = ["REGISTRY_PASSWORD": "flow-password-\(index)"]
        for step in flow.steps {
            var words = Self.words(step.command, env: env)
            if words.first == "export", words.count == 2, let equals = words[1].firstIndex(of: "=") {
                env[String(words[1][..<equals])] = String(words[1][words[1].index(after: equals)...])
                #expect(step.expected.isEmpty)
                continue
            }
            let echoesStatus =
                Array(words.suffix(3)) == ["echo", "exit status $?"]
                || step.command.hasSuffix(
                    #"; echo "exit status $?""#)
            if echoesStatus {
                words = Self.words(String(step.command.prefix { $0 != ";" }), env: env)
            }
            try #require(words.first == "cairn", "\(flow.title): only cairn commands are run: \(step.command)")
            let result = try await server.cairn(Array(words.dropFirst()), env: env)
            var lines = result.output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            if lines.last == "" { lines.removeLast() }
            if echoesStatus {
                lines.append("exit status \(result.status)")
            } else {
                #expect(result.status == 0, "\(flow.title): \(step.command)\n\(result)")
            }
            #expect(
                lines.count == step.expected.count
                    && zip(lines, step.expected).allSatisfy { Self.matches($0, $1) },
                "\(flow.title): \(step.command)\nexpected:\n\(step.expected.joined(separator: "\n"))\ngot:\n\(lines.joined(separator: "\n"))\n\(result.errorOutput)"
            )
        }
        // The password never comes back, in any form, over the socket or in the audit log.
        let events = try await server.cairn(["events", "--json"], env: env)
        #expect(events.status == 0)
        #expect(!events.output.contains(env["REGISTRY_PASSWORD"]!))
        let show = try await server.cairn(["providers", "show", "excititor:oci-openvex", "--json"], env: env)
        #expect(!show.output.contains(env["REGISTRY_PASSWORD"]!))
    }

    @Test func placeholdersMatchOneWordOnly() {
        #expect(Self.matches("updatedAt: 2026-01-01T00:00:00.000Z", "updatedAt: <time>"))
        #expect(!Self.matches("updatedAt: two words", "updatedAt: <time>"))
        #expect(!Self.matches("revision:  2", "revision:  1"))
        #expect(Self.matches("a (b) [c]", "a (b) [c]"))
        #expect(!Self.matches("list<artifactRef>", "list<string>"))
        #expect(Self.matches("list<artifactRef>  4f-1", "list<artifactRef>  <artifact-id>"))
        #expect(Self.words(#"x --set k="$P" y"#, env: ["P": "a b"]) == ["x", "--set", "k=a b", "y"])
    }
}

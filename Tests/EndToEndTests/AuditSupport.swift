import CairnProtocol
import DamageSupport
import Foundation
import Testing

/// Helpers of the backup, audit and export tests: JSON output, damage done
/// to files on purpose, and an auditor's script that knows nothing of Cairn.
enum Audit {
    /// One JSON text printed by the CLI.
    static func json(_ text: String) throws -> JSONValue {
        try JSONParser.parse(Array(text.utf8))
    }

    /// Flips the low bit of the byte `delta` bytes from every place where
    /// `pattern` occurs in `file`: LMDB's copy-on-write leaves stale copies
    /// of rewritten pages in free pages, and the live one must not be missed.
    static func flipByte(
        in file: String, after pattern: [UInt8], delta: Int = 0, sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let found = try FileDamage.offsets(of: pattern, in: file)
        try #require(!found.isEmpty, "the pattern is not in \(file)", sourceLocation: sourceLocation)
        for offset in found { try FileDamage.flip(file, at: offset + delta) }
    }

    /// The auditor's recomputation of a tenant manifest's digest, from a JSON
    /// file holding the manifest object (`cairn manifest --json`), a backup's
    /// MANIFEST.json or an export's EXPORT.json, by a short Python script that
    /// follows docs/auditing.md.
    static func manifestDigestByScript(_ file: String, tenant: String) throws -> String {
        let script = #"""
            import hashlib, json, sys
            doc = json.load(open(sys.argv[1]))
            m = next(t for t in doc.get("tenants") or [doc.get("manifest", doc)] if t["tenant"] == sys.argv[2])
            u, e = m["usage"], m["events"]
            def opt(v): return "none" if v is None else str(v)
            lines = ["cairn-manifest 1", "tenant " + m["tenant"],
                     "usage %d %d %d" % (u["artifactCount"], u["logicalBytes"], u["storedBytes"]),
                     "quota %s %s" % (opt(u["maxBytes"]), opt(u["maxArtifacts"])),
                     "events %d %s" % (e["seq"], opt(e["head"]))]
            for a in sorted(m["artifacts"], key=lambda a: a["artifactId"]):
                lines.append("artifact %s %s %d %s %s" % (a["artifactId"], a["sha256"], a["sizeBytes"], a["providerId"], a["mimeType"]))
            for c in sorted(m["configurations"], key=lambda c: c["providerId"]):
                lines.append("config %s %d" % (c["providerId"], c["revision"]))
            print(hashlib.sha256("".join(l + "\n" for l in lines).encode()).hexdigest())
            """#
        return try run(["python3", "-c", script, file, tenant]).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Whether `mdb_dump` (lmdb-utils) is installed, for the audit chain's independent check.
    static let hasMDBDump = FileManager.default.isExecutableFile(atPath: "/usr/bin/mdb_dump")

    /// The auditor's recomputation of every tenant's chain head from a copy
    /// of a data file, with `mdb_dump` and the Python of docs/auditing.md:
    /// tenant → (seq, head hex, whether every link held).
    static func chainHeadsByScript(_ directory: String) throws -> [String: (seq: Int, head: String, intact: Bool)] {
        let script = #"""
            import hashlib, struct, subprocess, sys
            dump = subprocess.run(["mdb_dump", "-s", "events", sys.argv[1]],
                                  capture_output=True, text=True, check=True).stdout.splitlines()
            body = dump[dump.index("HEADER=END") + 1 : dump.index("DATA=END")]
            heads = {}
            for i in range(0, len(body), 2):
                key, value = bytes.fromhex(body[i].strip()), bytes.fromhex(body[i + 1].strip())
                tenant, seq = key[:-9].decode(), struct.unpack(">Q", key[-8:])[0]
                assert value[0] == 2, "an event without a chain hash"
                fields, previous = value[1:-36], value[-32:]
                last_seq, last_hash = heads.get(tenant, (0, bytes(32)))
                ok = seq == last_seq + 1 and previous == last_hash
                digest = hashlib.sha256(key + previous + fields).digest()
                heads[tenant] = (seq, digest)
                print(tenant, seq, digest.hex(), "ok" if ok else "BROKEN")
            """#
        let output = try run(["python3", "-c", script, directory])
        var heads: [String: (seq: Int, head: String, intact: Bool)] = [:]
        for line in output.split(separator: "\n") {
            let fields = line.split(separator: " ").map(String.init)
            guard fields.count == 4, let seq = Int(fields[1]) else { continue }
            heads[fields[0]] = (seq, fields[2], (heads[fields[0]]?.intact ?? true) && fields[3] == "ok")
        }
        return heads
    }

    /// Runs `arguments` through `env` and returns its standard output; fails unless it exits 0.
    static func run(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "\(arguments.first ?? "") failed")
        return String(decoding: output, as: UTF8.self)
    }

    /// The digest on the last line of `cairn manifest`.
    static func printedDigest(_ output: String) -> String? {
        output.split(separator: "\n").last.flatMap { line in
            line.hasPrefix("digest sha256:") ? String(line.dropFirst("digest sha256:".count)) : nil
        }
    }
}

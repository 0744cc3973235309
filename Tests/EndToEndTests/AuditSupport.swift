import CairnProtocol
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
        var contents = try Data(contentsOf: URL(fileURLWithPath: file))
        var start = contents.startIndex
        var flipped = 0
        while let found = contents.range(of: Data(pattern), in: start..<contents.endIndex) {
            contents[found.lowerBound + delta] ^= 0x01
            flipped += 1
            start = found.upperBound
        }
        try #require(flipped > 0, "the pattern is not in \(file)", sourceLocation: sourceLocation)
        try contents.write(to: URL(fileURLWithPath: file))
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
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, file, tenant]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "the auditor's script failed")
        return String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The digest on the last line of `cairn manifest`.
    static func printedDigest(_ output: String) -> String? {
        output.split(separator: "\n").last.flatMap { line in
            line.hasPrefix("digest sha256:") ? String(line.dropFirst("digest sha256:".count)) : nil
        }
    }
}

/// A strict reader of Prometheus's text exposition format, version 0.0.4,
/// written from the format's description, for checking what `/metrics`
/// and `system.metrics` give.
///
/// It refuses what a Prometheus server would refuse and a little more:
/// a metric or label name outside its grammar, a label value with an
/// unknown escape, a value that is not a float, a `# TYPE` that comes twice
/// or after its family's samples, a family whose lines are not together, a
/// series given twice, a text not ending in a newline; and of histograms,
/// buckets out of order, counts that go down, or a `+Inf` bucket that is
/// not the `_count`.
struct PrometheusText {
    /// One line of a metric: its name, labels and value.
    struct Sample: Hashable, CustomStringConvertible {
        var name: String
        var labels: [String: String]
        var value: Double

        var description: String {
            let labels = self.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\"\($0.value)\"" }
            return "\(name){\(labels.joined(separator: ","))} \(value)"
        }
    }

    /// Why a text is not in the format.
    struct Malformed: Error, CustomStringConvertible {
        let line: Int
        let reason: String
        var description: String { "line \(line): \(reason)" }
    }

    /// The type of each family that has a `# TYPE` line.
    private(set) var types: [String: String] = [:]
    private(set) var samples: [Sample] = []

    init(parsing text: String) throws {
        guard text.isEmpty || text.hasSuffix("\n") else { throw Malformed(line: 0, reason: "no newline at the end") }
        var finished: Set<String> = []
        var current: String?
        var seen: Set<[String]> = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().enumerated() {
            let number = index + 1
            if line.isEmpty { continue }
            if line.hasPrefix("#") {
                let words = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false)
                guard words.count >= 3, words[0] == "#", words[1] == "TYPE" || words[1] == "HELP" else { continue }
                let name = String(words[2])
                guard Self.isMetricName(name) else { throw Malformed(line: number, reason: "bad name \(name)") }
                if words[1] == "TYPE" {
                    guard words.count == 4, ["counter", "gauge", "histogram", "summary", "untyped"].contains(words[3])
                    else { throw Malformed(line: number, reason: "bad TYPE line \(line)") }
                    guard types[name] == nil, !finished.contains(name), current != name else {
                        throw Malformed(line: number, reason: "a second TYPE, or one after the samples, of \(name)")
                    }
                    types[name] = String(words[3])
                }
                continue
            }
            let sample = try Self.sample(line, number)
            let family = family(of: sample.name)
            if family != current {
                if let current { finished.insert(current) }
                guard !finished.contains(family) else {
                    throw Malformed(line: number, reason: "the lines of \(family) are not together")
                }
                current = family
            }
            let key = [sample.name] + sample.labels.sorted { $0.key < $1.key }.flatMap { [$0.key, $0.value] }
            guard seen.insert(key).inserted else { throw Malformed(line: number, reason: "\(sample) twice") }
            samples.append(sample)
        }
        try checkHistograms()
    }

    /// The family a sample belongs to: a histogram's for its `_bucket`,
    /// `_sum` and `_count` lines, else the sample's own name.
    func family(of name: String) -> String {
        for suffix in ["_bucket", "_sum", "_count"] where name.hasSuffix(suffix) {
            let base = String(name.dropLast(suffix.count))
            if types[base] == "histogram" || types[base] == "summary" { return base }
        }
        return name
    }

    /// The value of the series `name` with exactly `labels`.
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        samples.first { $0.name == name && $0.labels == labels }?.value
    }

    /// Every series named `name`.
    func series(_ name: String) -> [Sample] { samples.filter { $0.name == name } }

    // MARK: - Grammar

    private static func sample(_ line: Substring, _ number: Int) throws -> Sample {
        var rest = line[...]
        let name = String(rest.prefix { $0.isLetter || $0.isNumber || $0 == "_" || $0 == ":" })
        guard isMetricName(name) else { throw Malformed(line: number, reason: "bad metric name in \(line)") }
        rest = rest.dropFirst(name.count)
        var labels: [String: String] = [:]
        if rest.first == "{" {
            rest = rest.dropFirst()
            while rest.first != "}" {
                let label = String(rest.prefix { $0.isLetter || $0.isNumber || $0 == "_" })
                guard isLabelName(label), rest.dropFirst(label.count).hasPrefix("=\"") else {
                    throw Malformed(line: number, reason: "bad label in \(line)")
                }
                rest = rest.dropFirst(label.count + 2)
                var value = ""
                while true {
                    guard let character = rest.popFirst() else {
                        throw Malformed(line: number, reason: "unterminated label value in \(line)")
                    }
                    if character == "\"" { break }
                    if character == "\\" {
                        switch rest.popFirst() {
                        case "\\": value.append("\\")
                        case "\"": value.append("\"")
                        case "n": value.append("\n")
                        default: throw Malformed(line: number, reason: "bad escape in \(line)")
                        }
                    } else {
                        value.append(character)
                    }
                }
                guard labels.updateValue(value, forKey: label) == nil else {
                    throw Malformed(line: number, reason: "label \(label) twice in \(line)")
                }
                if rest.first == "," {
                    rest = rest.dropFirst()
                } else if rest.first != "}" {
                    throw Malformed(line: number, reason: "expected , or } in \(line)")
                }
            }
            rest = rest.dropFirst()
        }
        let fields = rest.split(separator: " ", omittingEmptySubsequences: false)
        guard rest.first == " ", (2...3).contains(fields.count), fields[0].isEmpty, let value = float(fields[1]),
            fields.count == 2 || Int64(fields[2]) != nil
        else { throw Malformed(line: number, reason: "bad value or timestamp in \(line)") }
        return Sample(name: name, labels: labels, value: value)
    }

    private static func isMetricName(_ name: String) -> Bool {
        name.wholeMatch(of: /[a-zA-Z_:][a-zA-Z0-9_:]*/) != nil
    }

    private static func isLabelName(_ name: String) -> Bool {
        name.wholeMatch(of: /[a-zA-Z_][a-zA-Z0-9_]*/) != nil
    }

    /// A float as Go's `ParseFloat` reads it in these texts.
    private static func float(_ text: Substring) -> Double? {
        switch text {
        case "+Inf": return .infinity
        case "-Inf": return -.infinity
        case "NaN": return .nan
        default:
            guard text.wholeMatch(of: /[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?/) != nil else { return nil }
            return Double(text)
        }
    }

    // MARK: - Histograms

    private func checkHistograms() throws {
        for (family, type) in types where type == "histogram" {
            var buckets: [[String: String]: [(Double, Double)]] = [:]
            for sample in series(family + "_bucket") {
                var labels = sample.labels
                guard let le = labels.removeValue(forKey: "le"), let bound = Self.float(le[...]) else {
                    throw Malformed(line: 0, reason: "a bucket of \(family) without a valid le")
                }
                buckets[labels, default: []].append((bound, sample.value))
            }
            for (labels, list) in buckets {
                guard list.map(\.0) == list.map(\.0).sorted(), list.last?.0 == .infinity,
                    list.map(\.1) == list.map(\.1).sorted()
                else { throw Malformed(line: 0, reason: "the buckets of \(family)\(labels) are out of order") }
                guard value(family + "_count", labels) == list.last?.1, value(family + "_sum", labels) != nil else {
                    throw Malformed(line: 0, reason: "\(family)\(labels): +Inf bucket, _count and _sum disagree")
                }
            }
        }
    }
}

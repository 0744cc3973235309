extension MaterializationSession {
    /// The prefix of every variable of ``environment(prefix:)``.
    public static let environmentPrefix = "CAIRN_ARTIFACT_"

    /// The session's paths as environment variables for a child process.
    ///
    /// - An `artifactRef` field gives `<prefix><FIELD>=<path>`.
    /// - A `list<artifactRef>` field gives `<prefix><FIELD>_<N>=<path>` for
    ///   each item, numbered from 0 in the field's order, and
    ///   `<prefix><FIELD>` with all paths joined by newlines (empty for an
    ///   empty list).
    ///
    /// `<FIELD>` is ``environmentName(forField:)`` of the key. Variables come
    /// in field order.
    ///
    /// - Throws: ``MaterializationError`` `.environmentName` when two
    ///   variables would have the same name (keys such as `caBundle` and
    ///   `ca_bundle`, or a list `certs` and a field `certs_0`), or a key has
    ///   no letter or digit.
    public func environment(prefix: String = environmentPrefix) throws(MaterializationError) -> [(
        name: String, value: String
    )] {
        var variables: [(name: String, value: String)] = []
        var owners: [String: String] = [:]
        for field in fields {
            let base = Self.environmentName(forField: field.key)
            guard !base.isEmpty else {
                throw MaterializationError(
                    .environmentName, "field '\(field.key)' has no letter or digit to name a variable with")
            }
            let paths = paths(for: field.key) ?? []
            var own: [(String, String)] = [(prefix + base, paths.joined(separator: "\n"))]
            if field.isList {
                own += paths.enumerated().map { (prefix + base + "_\($0.offset)", $0.element) }
            }
            for (name, value) in own {
                if let owner = owners[name] {
                    throw MaterializationError(
                        .environmentName, "fields '\(owner)' and '\(field.key)' would both set \(name)")
                }
                owners[name] = field.key
                variables.append((name, value))
            }
        }
        return variables
    }

    /// A configuration key as the `<FIELD>` part of a variable name: camel
    /// case split into words, upper snake case.
    ///
    /// A word starts at an uppercase letter that follows a lowercase letter
    /// or a digit, and at the last capital of a run followed by a lowercase
    /// letter (`cosignKey` → `COSIGN_KEY`, `registryCaCertificates` →
    /// `REGISTRY_CA_CERTIFICATES`, `tufRoot` → `TUF_ROOT`, `HTTPProxy` →
    /// `HTTP_PROXY`). Every character that is not an ASCII letter or digit
    /// becomes `_`; runs of `_` collapse to one and none is kept at either
    /// end (`ca-bundle.pem` → `CA_BUNDLE_PEM`). A key without any ASCII
    /// letter or digit gives the empty string.
    public static func environmentName(forField key: String) -> String {
        let characters = Array(key)
        var name = ""
        func separate() {
            if !name.isEmpty && !name.hasSuffix("_") { name.append("_") }
        }
        for (index, character) in characters.enumerated() {
            guard character.isASCII, character.isLetter || character.isNumber else {
                separate()
                continue
            }
            if character.isUppercase && index > 0 {
                let previous = characters[index - 1]
                let next = index + 1 < characters.count ? characters[index + 1] : nil
                if previous.isASCII && (previous.isLowercase || previous.isNumber) {
                    separate()
                } else if previous.isASCII && previous.isUppercase, let next, next.isASCII, next.isLowercase {
                    separate()
                }
            }
            name.append(contentsOf: character.uppercased())
        }
        while name.hasSuffix("_") { name.removeLast() }
        return name
    }
}

import CairnProviders
import Testing

/// Reading `providers.config.set` values into changes: shapes, encodings and refusals.
@Suite struct ConfigurationChangeTests {
    let definition = ProviderCatalog.ociOpenVEX
    let id = "0b9c7f3e-52f4-4e55-9a43-3f0b1e0c2d11"

    func parse(_ values: [(key: String, value: ConfigInput)], clear: [String] = []) -> ConfigurationChange.Outcome {
        ConfigurationChange.parse(definition: definition, values: values, clear: clear)
    }

    func changes(_ values: [(key: String, value: ConfigInput)], clear: [String] = []) throws -> [String: FieldChange] {
        try parse(values, clear: clear).get()
    }

    func refusal(_ values: [(key: String, value: ConfigInput)], clear: [String] = []) -> [ReadinessReport.Issue] {
        guard case .failure(let refusal) = parse(values, clear: clear) else {
            Issue.record("expected a refusal")
            return []
        }
        return refusal.issues
    }

    @Test func scalarsAreStringsAndAnEmptyStringClears() throws {
        #expect(try changes([("cosignMode", .string("keypair"))]) == ["cosignMode": .set(.scalar("keypair"))])
        #expect(try changes([("offline", .string(""))]) == ["offline": .clear])
        #expect(try changes([("offline", .null)]) == ["offline": .clear])
        for input in [ConfigInput.other(kind: "a boolean"), .other(kind: "a number"), .array([.string("x")])] {
            let issues = refusal([("offline", input)])
            #expect(issues.map(\.field) == ["offline"])
            #expect(issues.map(\.subCode) == [.invalidValue])
        }
        #expect(
            refusal([("offline", .other(kind: "a boolean"))]).first?.message == "offline takes a string, not a boolean")
    }

    @Test func listsOfStringsTakeAnArrayAJSONArrayStringOrLines() throws {
        let expected: [String: FieldChange] = ["imageSubscriptions": .set(.list(["a/b:1", "c/d@sha256:00"]))]
        #expect(
            try changes([("imageSubscriptions", .array([.string("a/b:1"), .string("c/d@sha256:00")]))]) == expected)
        #expect(try changes([("imageSubscriptions", .string(#"["a/b:1","c/d@sha256:00"]"#))]) == expected)
        #expect(try changes([("imageSubscriptions", .string("a/b:1\n  c/d@sha256:00 \n\n"))]) == expected)
        #expect(try changes([("imageSubscriptions", .array([]))]) == ["imageSubscriptions": .clear])
        #expect(try changes([("imageSubscriptions", .string("\n"))]) == ["imageSubscriptions": .clear])
        #expect(refusal([("imageSubscriptions", .array([.string("a"), .other(kind: "a number")]))]).count == 1)
        #expect(refusal([("imageSubscriptions", .string("[1, 2]"))]).count == 1)
        #expect(refusal([("imageSubscriptions", .string("[not json"))]).count == 1)
        #expect(refusal([("imageSubscriptions", .other(kind: "an object"))]).count == 1)
    }

    @Test func artifactReferencesAreCanonicalIds() throws {
        #expect(try changes([("cosignKey", .string(id.uppercased()))]) == ["cosignKey": .set(.artifactRef(id))])
        #expect(
            try changes([("registryCaCertificates", .array([.string(id), .string(id.uppercased())]))]) == [
                "registryCaCertificates": .set(.artifactRefs([id, id]))
            ])
        #expect(try changes([("registryCaCertificates", .array([]))]) == ["registryCaCertificates": .clear])
        for input in [
            ConfigInput.string("not-a-uuid"), .string("{\(id)}"), .array([.string(id)]), .other(kind: "a number"),
        ] {
            #expect(refusal([("cosignKey", input)]).map(\.subCode) == [.invalidValue])
        }
        for input in [ConfigInput.string(id), .array([.string("nope")]), .array([.other(kind: "a number")])] {
            #expect(refusal([("registryCaCertificates", input)]).map(\.subCode) == [.invalidValue])
        }
    }

    @Test func unknownKeysAndContradictionsAreRefusedTogether() {
        let issues = refusal(
            [
                ("colour", .string("blue")), ("offline", .string("true")), ("offline", .string("false")),
                ("cosignMode", .string("keyless")),
            ],
            clear: ["cosignMode", "flavour"])
        #expect(issues.map(\.field) == ["colour", "offline", "cosignMode", "flavour"])
        #expect(issues.allSatisfy { $0.subCode == .invalidValue })
        #expect(issues[0].message == #"excititor:oci-openvex has no field "colour""#)
    }

    @Test func clearingAndSettingDifferentKeysMerge() throws {
        #expect(
            try changes([("cosignMode", .string("keypair"))], clear: ["cosignIssuer", "cosignSubject"]) == [
                "cosignMode": .set(.scalar("keypair")), "cosignIssuer": .clear, "cosignSubject": .clear,
            ])
        #expect(try changes([], clear: []).isEmpty)
    }
}

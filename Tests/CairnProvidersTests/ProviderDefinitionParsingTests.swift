import CairnProviders
import Testing

@Suite struct ProviderDefinitionParsingTests {
    func parse(_ json: String) throws(ProviderDefinitionError) -> ProviderDefinition {
        try ProviderDefinition.parse(Array(json.utf8))
    }

    func failure(_ json: String) -> ProviderDefinitionError? {
        do {
            _ = try parse(json)
            return nil
        } catch {
            return error
        }
    }

    @Test func parsesAFullDefinition() throws {
        let definition = try parse(
            """
            {"providerId": "acme:feed", "displayName": "Acme feed", "fields": [
              {"key": "url", "shape": "scalar", "required": true, "secret": false, "description": "Feed URL"},
              {"key": "token", "shape": "scalar", "secret": true},
              {"key": "mode", "shape": "scalar", "allowedValues": ["a", "b"]},
              {"key": "tags", "shape": "list<string>", "required": false, "description": null},
              {"key": "ca", "shape": "artifactRef"},
              {"key": "cas", "shape": "list<artifactRef>"}
            ]}
            """)
        #expect(definition.providerId == "acme:feed")
        #expect(definition.displayName == "Acme feed")
        #expect(
            definition.fields.map(\.shape) == [
                .scalar, .scalar, .scalar, .listOfStrings, .artifactRef, .listOfArtifactRefs,
            ])
        #expect(
            definition.fields[0] == ProviderField(key: "url", shape: .scalar, required: true, description: "Feed URL"))
        #expect(definition.fields[1].secret && !definition.fields[1].required)
        #expect(definition.fields[2].allowedValues == ["a", "b"])
        #expect(definition.fields[3].description == "")
    }

    @Test func parsesAnEmptyFieldList() throws {
        #expect(try parse(#"{"providerId":"x","displayName":"X","fields":[]}"#).fields.isEmpty)
    }

    @Test(arguments: [
        ("not json", ProviderDefinitionError.Code.invalidJSON, "not valid JSON"),
        ("[]", .notAnObject, "must be a JSON object"),
        (#"{"displayName":"X","fields":[]}"#, .missingMember, "\"providerId\""),
        (#"{"providerId":"x","fields":[]}"#, .missingMember, "\"displayName\""),
        (#"{"providerId":"x","displayName":"X"}"#, .missingMember, "\"fields\""),
        (#"{"providerId":"Bad Id","displayName":"X","fields":[]}"#, .invalidProviderId, "Bad Id"),
        (#"{"providerId":"-x","displayName":"X","fields":[]}"#, .invalidProviderId, "-x"),
        (#"{"providerId":7,"displayName":"X","fields":[]}"#, .wrongType, "providerId"),
        (#"{"providerId":"x","displayName":"","fields":[]}"#, .invalidDisplayName, "displayName"),
        (#"{"providerId":"x","displayName":"X","fields":{}}"#, .wrongType, "\"fields\" must be an array"),
        (#"{"providerId":"x","displayName":"X","fields":[],"extra":1}"#, .unknownMember, "extra"),
        (#"{"providerId":"x","displayName":"X","fields":[1]}"#, .notAnObject, "fields[0]"),
        (
            #"{"providerId":"x","displayName":"X","fields":[{"shape":"scalar"}]}"#, .missingMember,
            "fields[0] has no \"key\""
        ),
        (#"{"providerId":"x","displayName":"X","fields":[{"key":"a"}]}"#, .missingMember, "\"shape\""),
        (#"{"providerId":"x","displayName":"X","fields":[{"key":"","shape":"scalar"}]}"#, .invalidKey, "key"),
        (
            #"{"providerId":"x","displayName":"X","fields":[{"key":"a","shape":"list<int>"}]}"#, .unknownShape,
            "list<int>"
        ),
        (
            #"{"providerId":"x","displayName":"X","fields":[{"key":"a","shape":"scalar"},{"key":"a","shape":"scalar"}]}"#,
            .duplicateKey, "fields[1]: key \"a\""
        ),
        (
            #"{"providerId":"x","displayName":"X","fields":[{"key":"a","shape":"scalar","required":1}]}"#,
            .wrongType, "\"required\" must be true or false"
        ),
        (
            #"{"providerId":"x","displayName":"X","fields":[{"key":"a","shape":"scalar","secret":"yes"}]}"#,
            .wrongType, "\"secret\""
        ),
        (
            #"{"providerId":"x","displayName":"X","fields":[{"key":"a","shape":"scalar","requried":true}]}"#,
            .unknownMember, "requried"
        ),
        (
            #"{"providerId":"x","displayName":"X","fields":[{"key":"a","shape":"scalar","allowedValues":[1]}]}"#,
            .wrongType, "allowedValues"
        ),
        (
            #"{"providerId":"x","displayName":"X","fields":[{"key":"a","shape":"scalar","allowedValues":[]}]}"#,
            .invalidAllowedValues, "empty"
        ),
        (
            #"{"providerId":"x","displayName":"X","fields":[{"key":"a","shape":"scalar","allowedValues":["v","v"]}]}"#,
            .invalidAllowedValues, "repeats"
        ),
        (
            #"{"providerId":"x","displayName":"X","fields":[{"key":"a","shape":"artifactRef","allowedValues":["v"]}]}"#,
            .invalidAllowedValues, "artifactRef"
        ),
        (
            #"{"providerId":"x","displayName":"X","fields":[{"key":"a","shape":"scalar","description":5}]}"#,
            .wrongType, "description"
        ),
    ])
    func rejectsWithAPreciseError(_ json: String, _ code: ProviderDefinitionError.Code, _ fragment: String) {
        let error = failure(json)
        #expect(error?.code == code, "\(String(describing: error))")
        #expect(error?.message.contains(fragment) == true, "\(String(describing: error))")
    }
}

import Testing

@testable import ObjectStorage

@Suite struct S3ConfigurationTests {
    static let keys = [
        "AWS_ACCESS_KEY_ID": "AKIAEXAMPLEKEYID1234", "AWS_SECRET_ACCESS_KEY": "verysecretsecretvalue/0123456789",
    ]

    @Test func theS3EndpointVariableWinsAndAnExplicitEndpointWinsOverBoth() throws {
        var environment = Self.keys
        environment["AWS_ENDPOINT_URL"] = "http://127.0.0.1:7480"
        #expect(try S3Configuration(environment: environment).endpoint.description == "http://127.0.0.1:7480")
        environment["AWS_ENDPOINT_URL_S3"] = "https://objects.example.net:8443/base/"
        let configuration = try S3Configuration(environment: environment)
        #expect(configuration.endpoint.scheme == "https")
        #expect(configuration.endpoint.hostHeader == "objects.example.net:8443")
        #expect(configuration.endpoint.basePath == "/base")
        #expect(
            try S3Configuration(environment: environment, endpoint: "http://[::1]:9000").endpoint.hostHeader
                == "[::1]:9000")
        #expect(try S3Configuration(environment: environment, endpoint: "").endpoint.basePath == "/base")
    }

    @Test func regionAndDefaults() throws {
        var environment = Self.keys
        #expect(try S3Configuration(environment: environment).region == "us-east-1")
        #expect(
            try S3Configuration(environment: environment).endpoint.description == "https://s3.us-east-1.amazonaws.com")
        environment["AWS_DEFAULT_REGION"] = "eu-west-1"
        #expect(try S3Configuration(environment: environment).region == "eu-west-1")
        environment["AWS_REGION"] = "eu-central-1"
        #expect(try S3Configuration(environment: environment).region == "eu-central-1")
        environment["AWS_SESSION_TOKEN"] = "session"
        #expect(try S3Configuration(environment: environment).credentials.sessionToken == "session")
        environment["AWS_SESSION_TOKEN"] = ""
        #expect(try S3Configuration(environment: environment).credentials.sessionToken == nil)
    }

    @Test func missingCredentialsAreNamedNotShown() {
        for missing in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
            var environment = Self.keys
            environment[missing] = ""
            #expect {
                try S3Configuration(environment: environment)
            } throws: { error in
                let error = error as! S3Error
                return error.kind == .invalidConfiguration && error.message.contains(missing)
                    && !error.description.contains("verysecret") && !error.description.contains("AKIAEXAMPLE")
            }
        }
    }

    @Test(arguments: [
        "127.0.0.1:7480", "ftp://h", "http://", "http://h:0", "http://h:99999", "http://u:p@h", "http://h/?q",
    ])
    func unusableEndpointsAreRefused(url: String) {
        #expect(throws: S3Error.self) { try S3Endpoint(url) }
    }

    @Test func defaultPortsAreLeftOutOfTheHostHeader() throws {
        #expect(try S3Endpoint("http://h:80").hostHeader == "h")
        #expect(try S3Endpoint("https://H.example:443").hostHeader == "h.example")
        #expect(try S3Endpoint("http://h:443").hostHeader == "h:443")
    }

    @Test func noTextualFormShowsTheSecretOrTheToken() throws {
        var environment = Self.keys
        environment["AWS_SESSION_TOKEN"] = "tokentokentoken"
        environment["AWS_ENDPOINT_URL"] = "http://127.0.0.1:1"
        let configuration = try S3Configuration(environment: environment)
        var dumped = ""
        dump(configuration, to: &dumped)
        var dumpedCredentials = ""
        dump(configuration.credentials, to: &dumpedCredentials)
        let forms = [
            String(describing: configuration), String(reflecting: configuration), "\(configuration)",
            String(describing: configuration.credentials), String(reflecting: configuration.credentials),
            String(describing: [configuration.credentials]), dumped, dumpedCredentials,
            String(describing: SignatureV4(credentials: configuration.credentials, region: "r")),
        ]
        for form in forms {
            #expect(!form.contains("verysecret"), "\(form)")
            #expect(!form.contains("tokentoken"), "\(form)")
            #expect(!form.contains("AKIAEXAMPLEKEY"), "\(form)")
        }
        #expect(String(describing: configuration.credentials).contains("AKIA…"))
    }
}

import Testing

@testable import ObjectStorage

/// Signature Version 4 against the values AWS publishes: the S3 examples of the "Authenticating
/// Requests (AWS Signature Version 4)" pages (examplebucket, 2013-05-24) and the `get-vanilla`
/// case of the SigV4 test suite.
@Suite struct SignatureV4Tests {
    static let s3Example = SignatureV4(
        credentials: S3Credentials(
            accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        region: "us-east-1")
    static let exampleTime = SigningTime(year: 2013, month: 5, day: 24)
    static let emptyHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    @Test func getObjectWithRangeMatchesEveryPublishedStep() {
        var request = SignableRequest(
            method: "GET", path: "/test.txt",
            headers: [(name: "Host", value: "examplebucket.s3.amazonaws.com"), (name: "Range", value: "bytes=0-9")])
        Self.s3Example.sign(&request, payloadHash: Self.emptyHash, at: Self.exampleTime)

        let canonical = Self.s3Example.canonicalRequest(for: request, payloadHash: Self.emptyHash)
        #expect(
            canonical == """
                GET
                /test.txt

                host:examplebucket.s3.amazonaws.com
                range:bytes=0-9
                x-amz-content-sha256:\(Self.emptyHash)
                x-amz-date:20130524T000000Z

                host;range;x-amz-content-sha256;x-amz-date
                \(Self.emptyHash)
                """)
        let stringToSign = Self.s3Example.stringToSign(canonicalRequest: canonical, at: Self.exampleTime)
        #expect(
            stringToSign == """
                AWS4-HMAC-SHA256
                20130524T000000Z
                20130524/us-east-1/s3/aws4_request
                7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972
                """)
        #expect(
            Self.s3Example.signature(stringToSign: stringToSign, at: Self.exampleTime)
                == "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
        #expect(
            request.header("authorization")
                == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
                + "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
                + "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
    }

    @Test func putObjectWithAPayloadHashAndAnEncodedPath() {
        let payloadHash = "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"
        var request = SignableRequest(
            method: "PUT", path: "/" + URIEncoding.path("test$file.text"),
            headers: [
                (name: "Host", value: "examplebucket.s3.amazonaws.com"),
                (name: "Date", value: "Fri, 24 May 2013 00:00:00 GMT"),
                (name: "x-amz-storage-class", value: "REDUCED_REDUNDANCY"),
            ])
        #expect(request.path == "/test%24file.text")
        Self.s3Example.sign(&request, payloadHash: payloadHash, at: Self.exampleTime)
        #expect(request.header("x-amz-content-sha256") == payloadHash)
        #expect(
            request.header("authorization")?.hasSuffix(
                "SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class, "
                    + "Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd") == true)
    }

    @Test func getWithAValuelessQueryParameter() {
        var request = SignableRequest(
            method: "GET", path: "/", query: [(name: "lifecycle", value: "")],
            headers: [(name: "Host", value: "examplebucket.s3.amazonaws.com")])
        Self.s3Example.sign(&request, payloadHash: Self.emptyHash, at: Self.exampleTime)
        #expect(
            request.header("authorization")?.hasSuffix(
                "Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543") == true)
        #expect(request.encodedQuery == "lifecycle")
    }

    @Test func listObjectsQuerySortedByName() {
        var request = SignableRequest(
            method: "GET", path: "/", query: [(name: "prefix", value: "J"), (name: "max-keys", value: "2")],
            headers: [(name: "Host", value: "examplebucket.s3.amazonaws.com")])
        Self.s3Example.sign(&request, payloadHash: Self.emptyHash, at: Self.exampleTime)
        #expect(
            request.header("authorization")?.hasSuffix(
                "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7") == true)
    }

    @Test func theTestSuitesGetVanillaForAnotherService() {
        let signer = SignatureV4(
            credentials: S3Credentials(
                accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
            region: "us-east-1", service: "service")
        var request = SignableRequest(
            method: "GET", path: "/", headers: [(name: "Host", value: "example.amazonaws.com")])
        signer.sign(
            &request, payloadHash: Self.emptyHash, at: SigningTime(year: 2015, month: 8, day: 30, hour: 12, minute: 36))
        #expect(request.header("x-amz-content-sha256") == nil)
        #expect(
            request.header("authorization")
                == "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
                + "SignedHeaders=host;x-amz-date, "
                + "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
    }

    @Test func headerValuesAreTrimmedAndRepeatsJoined() {
        let request = SignableRequest(
            method: "get", path: "/b/k",
            headers: [
                (name: "X-Amz-Meta-Note", value: "  two   spaces  "), (name: "host", value: "h"),
                (name: "x-amz-meta-note", value: "again"), (name: "User-Agent", value: "never signed"),
            ])
        let canonical = Self.s3Example.canonicalRequest(for: request, payloadHash: "UNSIGNED-PAYLOAD")
        #expect(
            canonical
                == "GET\n/b/k\n\nhost:h\nx-amz-meta-note:two spaces,again\n\nhost;x-amz-meta-note\nUNSIGNED-PAYLOAD")
    }

    @Test func aSessionTokenIsSentAndSigned() {
        var signer = Self.s3Example
        signer.credentials.sessionToken = "token/with+special=="
        var request = SignableRequest(method: "GET", path: "/", headers: [(name: "host", value: "h")])
        signer.sign(&request, payloadHash: Self.emptyHash, at: Self.exampleTime)
        #expect(request.header("x-amz-security-token") == "token/with+special==")
        #expect(request.header("authorization")?.contains("x-amz-date;x-amz-security-token") == true)
    }

    @Test(arguments: [
        (SigningTime(secondsSince1970: 0), "19700101T000000Z"),
        (SigningTime(secondsSince1970: 951_782_400), "20000229T000000Z"),
        (SigningTime(secondsSince1970: 1_798_761_599), "20261231T235959Z"),
        (SigningTime(year: 2024, month: 2, day: 29, hour: 23, minute: 59, second: 58), "20240229T235958Z"),
    ])
    func signingTimesPrintInUTC(time: SigningTime, timestamp: String) {
        #expect(time.timestamp == timestamp)
        #expect(time.date == String(timestamp.prefix(8)))
    }
}

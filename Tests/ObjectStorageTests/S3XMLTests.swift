import Testing

@testable import ObjectStorage

@Suite struct S3XMLTests {
    @Test func aListingPageWithEncodedKeysEntitiesAndAToken() throws {
        let body = """
            <?xml version="1.0" encoding="UTF-8"?>
            <ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
              <Name>bucket</Name><Prefix>photos%2F</Prefix><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys>
              <EncodingType>url</EncodingType><IsTruncated>true</IsTruncated>
              <Contents>
                <Key>photos/2024+summer/%C3%BC%2B1.jpg</Key>
                <LastModified>2026-12-07T10:00:00.000Z</LastModified>
                <ETag>&quot;9b2cf535f27731c974343645a3985328&quot;</ETag>
                <Size>6</Size><StorageClass>STANDARD</StorageClass>
              </Contents>
              <Contents><Key>photos/b</Key><LastModified>x</LastModified><ETag>"e-2"</ETag><Size>5368709120</Size></Contents>
              <CommonPrefixes><Prefix>photos/d%2F/</Prefix></CommonPrefixes>
              <NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>
            </ListBucketResult>
            """
        let listing = try S3Responses.listing(try S3XML.parse(Array(body.utf8)), urlEncoded: true)
        #expect(listing.objects.map(\.key) == ["photos/2024 summer/ü+1.jpg", "photos/b"])
        #expect(listing.objects.map(\.etag) == ["9b2cf535f27731c974343645a3985328", "e-2"])
        #expect(listing.objects.map(\.size) == [6, 5_368_709_120])
        #expect(listing.objects[0].storageClass == "STANDARD")
        #expect(listing.commonPrefixes == ["photos/d//"])
        #expect(listing.isTruncated)
        #expect(listing.nextContinuationToken == "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=")
    }

    @Test func aTruncatedListingNeedsAToken() throws {
        let body = "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>"
        #expect(throws: S3Error.self) {
            try S3Responses.listing(try S3XML.parse(Array(body.utf8)), urlEncoded: false)
        }
    }

    @Test func anErrorBodyFillsTheTypedError() throws {
        let body = """
            <?xml version="1.0" encoding="UTF-8"?>
            <Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match</Message>
            <StringToSign>AWS4-HMAC-SHA256 …</StringToSign><RequestId>tx000-abc</RequestId><HostId>h</HostId></Error>
            """
        var error = S3Error(.service, message: "HTTP 403", status: 403, resource: "b/k", attempts: 1)
        S3Responses.fill(&error, from: try S3XML.parse(Array(body.utf8)))
        #expect(error.serviceCode == .signatureDoesNotMatch)
        #expect(error.message == "The request signature we calculated does not match")
        #expect(error.requestID == "tx000-abc")
        #expect(!error.description.contains("StringToSign"))
    }

    @Test func multipartAndDeleteAnswers() throws {
        let initiate =
            "<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key><UploadId>2~abc</UploadId></InitiateMultipartUploadResult>"
        #expect(try S3Responses.uploadID(try S3XML.parse(Array(initiate.utf8))) == "2~abc")
        let complete = "<CompleteMultipartUploadResult><ETag>&#34;abc-8&#x22;</ETag></CompleteMultipartUploadResult>"
        #expect(try S3Responses.completedETag(try S3XML.parse(Array(complete.utf8))) == "abc-8")
        let deleted = """
            <DeleteResult><Deleted><Key>a</Key></Deleted>
            <Error><Key>b &amp; c</Key><Code>AccessDenied</Code><Message>no</Message></Error></DeleteResult>
            """
        #expect(
            try S3Responses.deleteFailures(try S3XML.parse(Array(deleted.utf8)))
                == [DeleteFailure(key: "b & c", code: .accessDenied, message: "no")])
    }

    @Test func requestBodiesEscapeKeysAndQuoteETags() throws {
        let body = S3Responses.deleteBody(["a<b>&\"c'", "d\re"])
        let root = try S3XML.parse(Array(body.utf8))
        #expect(root.children("Object").compactMap { $0.text(of: "Key") } == ["a<b>&\"c'", "d\re"])
        let complete = try S3XML.parse(
            Array(S3Responses.completeBody([CompletedPart(partNumber: 2, etag: "ff", size: 1)]).utf8))
        #expect(complete.child("Part")?.text(of: "ETag") == "\"ff\"")
    }

    @Test func cdataCommentsAndSelfClosingElements() throws {
        let root = try S3XML.parse(Array("<a x='1'><!-- c --><b/><![CDATA[<raw>&]]> tail</a>".utf8))
        #expect(root.attributes == ["x": "1"])
        #expect(root.children.map(\.name) == ["b"])
        #expect(root.text == "<raw>& tail")
    }

    @Test(arguments: [
        "", "<a>", "<a></b>", "<a/><b/>", "<a>&unknown;</a>", "<a>&#0;</a>", "<!DOCTYPE a [<!ENTITY x 'y'>]><a>&x;</a>",
        "<a x=1/>", "<a x='1' x='2'/>", "text", "<a>\u{FF}</a>x",
    ])
    func malformedDocumentsAreRefused(document: String) {
        #expect(throws: S3XML.SyntaxError.self) { try S3XML.parse(Array(document.utf8)) }
    }

    @Test func invalidUTF8IsRefused() {
        #expect(throws: S3XML.SyntaxError.self) { try S3XML.parse([0x3C, 0x61, 0x3E, 0xFF, 0x3C, 0x2F, 0x61, 0x3E]) }
    }

    @Test func nestingIsBounded() {
        let deep = String(repeating: "<a>", count: 100) + String(repeating: "</a>", count: 100)
        #expect(throws: S3XML.SyntaxError.self) { try S3XML.parse(Array(deep.utf8)) }
    }
}

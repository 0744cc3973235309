import Testing

@testable import ObjectStorage

@Suite struct URIEncodingTests {
    @Test func unreservedCharactersStayAndEverythingElseIsEncodedInUpperCase() {
        #expect(URIEncoding.component("AZaz09-_.~") == "AZaz09-_.~")
        #expect(URIEncoding.component("a b+c=d&e/f?g#h%i*j'k") == "a%20b%2Bc%3Dd%26e%2Ff%3Fg%23h%25i%2Aj%27k")
        #expect(URIEncoding.component("ü€😀") == "%C3%BC%E2%82%AC%F0%9F%98%80")
    }

    @Test func pathsKeepTheirSlashesAndNothingIsNormalized() {
        #expect(URIEncoding.path("a/b c/../d//e/./f") == "a/b%20c/../d//e/./f")
        #expect(URIEncoding.path("/leading/and/trailing/") == "/leading/and/trailing/")
        #expect(URIEncoding.path("test$file.text") == "test%24file.text")
    }

    @Test func decodingReversesEncodingAndRefusesBadSequences() {
        for text in ["plain", "a b/c+d", "ü€😀 %", "100%"] {
            #expect(URIEncoding.decode(URIEncoding.component(text)) == text)
        }
        #expect(URIEncoding.decode("%2b%2B+") == "++" + "+")
        #expect(URIEncoding.decode("%") == nil)
        #expect(URIEncoding.decode("%G0") == nil)
        #expect(URIEncoding.decode("%FF") == nil)
    }
}

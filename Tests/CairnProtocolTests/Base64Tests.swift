import CairnProtocol
import Foundation
import Testing

private let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

/// Decodes raw bytes (which need not be valid UTF-8) as base64 text.
private func decode(bytes: [UInt8]) -> [UInt8]? {
    bytes.withUnsafeBytes { Base64.decode(utf8: $0) }
}

@Suite("Base64")
struct Base64Tests {
    @Test func rfc4648Vectors() {
        let vectors = [
            ("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ]
        for (plain, encoded) in vectors {
            #expect(Base64.encode(Array(plain.utf8)) == encoded)
            #expect(Base64.decode(encoded) == Array(plain.utf8))
        }
    }

    @Test func emptyTextDecodesToNoBytes() {
        #expect(Base64.decode("") == [])
        #expect(Base64.decode(utf8: UnsafeRawBufferPointer(start: nil, count: 0)) == [])
        #expect(Base64.encode(UnsafeRawBufferPointer(start: nil, count: 0)) == "")
    }

    @Test func everyByteValueRoundTrips() {
        let bytes = (0...255).map(UInt8.init)
        for start in 0..<3 {
            let slice = Array(bytes[start...])
            let encoded = Base64.encode(slice)
            #expect(encoded == Data(slice).base64EncodedString())
            #expect(Base64.decode(encoded) == slice)
        }
    }

    @Test func matchesFoundationOnRandomInput() {
        var rng = SplitMix64(seed: 42)
        for length in 0..<600 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let encoded = Base64.encode(bytes)
            #expect(encoded == Data(bytes).base64EncodedString())
            #expect(Base64.decode(encoded) == bytes)
            #expect(Array(encoded.utf8).withUnsafeBytes { Base64.decode(utf8: $0) } == bytes)
        }
    }

    @Test func encodesASliceOfABuffer() {
        let bytes = Array("xxfoobarxx".utf8)
        let encoded = bytes.withUnsafeBytes { Base64.encode(UnsafeRawBufferPointer(rebasing: $0[2..<8])) }
        #expect(encoded == "Zm9vYmFy")
    }

    @Test func largeRoundTrip() {
        var rng = SplitMix64(seed: 9)
        let bytes = (0..<(3 << 20) + 1).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let encoded = Base64.encode(bytes)
        #expect(encoded.utf8.count == ((3 << 20) + 3) / 3 * 4)
        #expect(Base64.decode(encoded) == bytes)
    }

    @Test(arguments: [
        "Z", "Zg", "Zg=", "Zm9vY", "Zm9vYmF", "=", "==", "===", "====", "Z===", "=Zg=", "==Zg", "Z=g=", "Zm=v",
        "Zg==Zg==",
        "Zm9v====", "Zg==\n", "\nZg==", " Zg==", "Zm9 v", "Zm9v\r\n", "Zm9v-A==", "Zm9v_A==", "Zm9v.A==", "Zm9vYmFy=",
        "Zm9vYmFy====", "Zm9vé===",
    ])
    func malformedTextIsRefused(text: String) {
        #expect(Base64.decode(text) == nil, "accepted \(text.debugDescription)")
    }

    @Test(arguments: ["QR==", "Zh==", "Zm9=", "Zm9vYh==", "Zm9vYmF=", "AB==", "AAB=", "////", "///="])
    func nonCanonicalTrailingBits(text: String) {
        // "////" is canonical (no padding, no unused bits); the rest are not.
        #expect((Base64.decode(text) != nil) == (text == "////"))
    }

    @Test func unusedBitsMustBeZeroExhaustively() {
        for (value, character) in alphabet.enumerated() {
            let twoPadded = [UInt8(ascii: "Q"), character, UInt8(ascii: "="), UInt8(ascii: "=")]
            #expect((decode(bytes: twoPadded) != nil) == (value & 0x0F == 0))
            let onePadded = [UInt8(ascii: "Q"), UInt8(ascii: "Q"), character, UInt8(ascii: "=")]
            #expect((decode(bytes: onePadded) != nil) == (value & 0x03 == 0))
        }
    }

    @Test func everyByteOutsideTheAlphabetIsRefusedAtEveryPosition() {
        let valid = Array("Zm9vYmFyZm9vYmFyZg==".utf8)
        #expect(decode(bytes: valid) == Array("foobarfoobarf".utf8))
        let outside = (0...255).map(UInt8.init).filter { !alphabet.contains($0) }
        for position in 0..<18 {
            for byte in outside {
                var text = valid
                text[position] = byte
                #expect(decode(bytes: text) == nil, "byte \(byte) at \(position)")
            }
        }
    }

    @Test func acceptedTextIsExactlyTheCanonicalEncoding() {
        // Random short texts over the alphabet and '=': accepted if and only if re-encoding gives the same text.
        var rng = SplitMix64(seed: 3)
        let characters = alphabet + [UInt8(ascii: "=")]
        var accepted = 0
        for _ in 0..<20_000 {
            let length = 4 * Int.random(in: 1...3, using: &rng)
            var bytes = (0..<length).map { _ in alphabet.randomElement(using: &rng)! }
            for position in (length - 3)..<length where Int.random(in: 0..<3, using: &rng) == 0 {
                bytes[position] = characters.randomElement(using: &rng)!
            }
            if Int.random(in: 0..<2, using: &rng) == 0 { bytes[length - 1] = UInt8(ascii: "=") }
            let text = String(decoding: bytes, as: UTF8.self)
            if let decoded = Base64.decode(text) {
                accepted += 1
                #expect(Base64.encode(decoded) == text)
            } else if let lenient = Data(base64Encoded: text) {
                #expect(Base64.encode(Array(lenient)) != text, "refused canonical \(text)")
            }
        }
        #expect(accepted > 1000)
    }
}

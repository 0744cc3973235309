/// Percent-encoding as Signature Version 4 and S3 want it.
///
/// Every byte of the UTF-8 form is encoded as `%XX` (upper-case hex) except the unreserved
/// characters `A-Z a-z 0-9 - _ . ~`; a space is `%20`, never `+`. ``path(_:)`` leaves `/` as it
/// is (object keys keep their slashes in the URL); ``component(_:)`` encodes it too (query names
/// and values). No normalization: `//`, `.` and `..` segments stay what they are, as S3 expects.
public enum URIEncoding {
    /// Encodes a query parameter's name or value: everything but the unreserved characters.
    public static func component(_ text: String) -> String {
        encode(text, keepingSlashes: false)
    }

    /// Encodes an object key (or any path) for the URL: everything but the unreserved characters and `/`.
    public static func path(_ text: String) -> String {
        encode(text, keepingSlashes: true)
    }

    /// Decodes `%XX` sequences (and nothing else: `+` stays `+`); `nil` for a bad sequence or bad UTF-8.
    public static func decode(_ text: String) -> String? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                return nil
            }
            bytes.append(high << 4 | low)
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static let hexDigits = Array("0123456789ABCDEF".utf8)

    private static func encode(_ text: String, keepingSlashes: Bool) -> String {
        var encoded: [UInt8] = []
        encoded.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            if isUnreserved(byte) || (keepingSlashes && byte == UInt8(ascii: "/")) {
                encoded.append(byte)
            } else {
                encoded.append(UInt8(ascii: "%"))
                encoded.append(hexDigits[Int(byte >> 4)])
                encoded.append(hexDigits[Int(byte & 0x0F)])
            }
        }
        return String(decoding: encoded, as: UTF8.self)
    }

    private static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
            UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        default: return nil
        }
    }
}

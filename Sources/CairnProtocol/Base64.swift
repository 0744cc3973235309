/// Base64 in the standard alphabet with padding (RFC 4648 §4), as the wire contract uses for `data`.
///
/// Encoding always pads. Decoding is strict, so that every byte string has
/// exactly one accepted text: the length must be a multiple of four, only
/// `A–Z a–z 0–9 + /` may appear, `=` only as the last one or two characters,
/// and the unused low bits before the padding must be zero (`QQ==` decodes,
/// `QR==` does not). Whitespace, line breaks and the URL-safe alphabet
/// (`-`, `_`) are refused. Both directions are table-driven and work on whole
/// buffers; there is no streaming interface.
public enum Base64 {
    /// Encodes bytes as padded standard base64.
    ///
    /// - Parameter bytes: the bytes to encode; read only during the call.
    /// - Returns: the text, `4 * ceil(count / 3)` ASCII characters; empty for no bytes.
    public static func encode(_ bytes: UnsafeRawBufferPointer) -> String {
        let count = bytes.count
        guard count > 0, let input = bytes.baseAddress else { return "" }
        let outputCount = (count + 2) / 3 * 4
        return String(unsafeUninitializedCapacity: outputCount) { output in
            encode(input.assumingMemoryBound(to: UInt8.self), count: count, into: output.baseAddress!)
            return outputCount
        }
    }

    /// Encodes bytes as padded standard base64.
    ///
    /// - Parameter bytes: the bytes to encode.
    /// - Returns: the text, `4 * ceil(count / 3)` ASCII characters; empty for no bytes.
    public static func encode(_ bytes: [UInt8]) -> String {
        bytes.withUnsafeBytes { encode($0) }
    }

    /// Decodes strict, padded standard base64.
    ///
    /// - Parameter text: the base64 text, with nothing around it (no whitespace, no line breaks).
    /// - Returns: the bytes, empty for an empty text, or `nil` when the text is not canonical base64.
    public static func decode(_ text: String) -> [UInt8]? {
        var text = text
        return text.withUTF8 { decode(utf8: UnsafeRawBufferPointer($0)) }
    }

    /// Decodes strict, padded standard base64 from its UTF-8 (ASCII) bytes.
    ///
    /// - Parameter utf8: the base64 text's bytes; read only during the call.
    /// - Returns: the bytes, empty for an empty text, or `nil` when the text is not canonical base64.
    public static func decode(utf8: UnsafeRawBufferPointer) -> [UInt8]? {
        let count = utf8.count
        guard count > 0, let raw = utf8.baseAddress else { return [] }
        guard count % 4 == 0 else { return nil }
        let input = raw.assumingMemoryBound(to: UInt8.self)
        let padding =
            input[count - 1] == UInt8(ascii: "=") ? (input[count - 2] == UInt8(ascii: "=") ? 2 : 1) : 0
        let outputCount = count / 4 * 3 - padding
        var valid = false
        let result = [UInt8](unsafeUninitializedCapacity: outputCount) { output, initialized in
            valid = decodeTables.withUnsafeBufferPointer { tables in
                decode(input, count: count, padding: padding, tables: tables.baseAddress!, into: output.baseAddress)
            }
            initialized = valid ? outputCount : 0
        }
        return valid ? result : nil
    }

    // MARK: Encoding

    private static let alphabet: StaticString = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

    private static func encode(_ input: UnsafePointer<UInt8>, count: Int, into output: UnsafeMutablePointer<UInt8>) {
        let table = alphabet.utf8Start
        var inIndex = 0
        var outIndex = 0
        while inIndex + 3 <= count {
            let word = UInt32(input[inIndex]) << 16 | UInt32(input[inIndex + 1]) << 8 | UInt32(input[inIndex + 2])
            output[outIndex] = table[Int(word >> 18)]
            output[outIndex + 1] = table[Int(word >> 12 & 0x3F)]
            output[outIndex + 2] = table[Int(word >> 6 & 0x3F)]
            output[outIndex + 3] = table[Int(word & 0x3F)]
            inIndex += 3
            outIndex += 4
        }
        switch count - inIndex {
        case 1:
            let word = UInt32(input[inIndex]) << 16
            output[outIndex] = table[Int(word >> 18)]
            output[outIndex + 1] = table[Int(word >> 12 & 0x3F)]
            output[outIndex + 2] = UInt8(ascii: "=")
            output[outIndex + 3] = UInt8(ascii: "=")
        case 2:
            let word = UInt32(input[inIndex]) << 16 | UInt32(input[inIndex + 1]) << 8
            output[outIndex] = table[Int(word >> 18)]
            output[outIndex + 1] = table[Int(word >> 12 & 0x3F)]
            output[outIndex + 2] = table[Int(word >> 6 & 0x3F)]
            output[outIndex + 3] = UInt8(ascii: "=")
        default:
            break
        }
    }

    // MARK: Decoding

    /// Marks a character outside the alphabet; any decoded quad with this bit set is invalid.
    private static let invalid: UInt32 = 0x0100_0000

    /// Four 256-entry tables, one per position in a quad. Each maps a character to its six bits
    /// already placed where they land in the three output bytes, read as a little-endian
    /// `UInt32` (byte 0 in the low bits), so a quad decodes to `t0[a] | t1[b] | t2[c] | t3[d]`.
    /// Characters outside the alphabet (including `=`) map to ``invalid``.
    private static let decodeTables: [UInt32] = {
        var tables = [UInt32](repeating: invalid, count: 4 * 256)
        let characters = UnsafeBufferPointer(start: alphabet.utf8Start, count: alphabet.utf8CodeUnitCount)
        for (value, character) in characters.enumerated() {
            let bits = UInt32(value)
            let index = Int(character)
            tables[index] = bits << 2
            tables[256 + index] = bits >> 4 | (bits & 0x0F) << 12
            tables[512 + index] = (bits >> 2) << 8 | (bits & 0x03) << 22
            tables[768 + index] = bits << 16
        }
        return tables
    }()

    /// Decodes `count` characters (a positive multiple of four) ending in `padding` `=` into `output`.
    ///
    /// - Returns: whether the text was valid; on `false` the output holds garbage.
    private static func decode(
        _ input: UnsafePointer<UInt8>, count: Int, padding: Int, tables: UnsafePointer<UInt32>,
        into output: UnsafeMutablePointer<UInt8>?
    ) -> Bool {
        let t0 = tables
        let t1 = tables + 256
        let t2 = tables + 512
        let t3 = tables + 768
        let quads = count / 4
        var errors: UInt32 = 0
        var inIndex = 0
        var outIndex = 0
        // Every quad but the last: the last decodes to at least one byte, so a four-byte store
        // for an earlier quad stays inside the output.
        if quads > 1, let output {
            let raw = UnsafeMutableRawPointer(output)
            for _ in 0..<(quads - 1) {
                let word =
                    t0[Int(input[inIndex])] | t1[Int(input[inIndex + 1])] | t2[Int(input[inIndex + 2])]
                    | t3[Int(input[inIndex + 3])]
                errors |= word
                raw.storeBytes(of: word.littleEndian, toByteOffset: outIndex, as: UInt32.self)
                inIndex += 4
                outIndex += 3
            }
        }
        guard errors & invalid == 0 else { return false }

        // The last quad, with its padding.
        let a = t0[Int(input[inIndex])]
        let b = t1[Int(input[inIndex + 1])]
        switch padding {
        case 0:
            let word = a | b | t2[Int(input[inIndex + 2])] | t3[Int(input[inIndex + 3])]
            guard word & invalid == 0, let output else { return false }
            output[outIndex] = UInt8(truncatingIfNeeded: word)
            output[outIndex + 1] = UInt8(truncatingIfNeeded: word >> 8)
            output[outIndex + 2] = UInt8(truncatingIfNeeded: word >> 16)
        case 1:
            let word = a | b | t2[Int(input[inIndex + 2])]
            // The third character's low two bits fall into the missing byte and must be zero.
            guard word & invalid == 0, word >> 16 == 0, let output else { return false }
            output[outIndex] = UInt8(truncatingIfNeeded: word)
            output[outIndex + 1] = UInt8(truncatingIfNeeded: word >> 8)
        default:
            let word = a | b
            // The second character's low four bits fall into the missing bytes and must be zero.
            guard word & invalid == 0, word >> 8 == 0, let output else { return false }
            output[outIndex] = UInt8(truncatingIfNeeded: word)
        }
        return true
    }
}

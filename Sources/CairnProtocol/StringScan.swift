/// The word-at-a-time scan shared by the JSON parser and writer: skips
/// string bytes that need no attention, eight at a time.
enum StringScan {
    /// The first position at or after `start` whose 8-byte word holds a quote,
    /// a backslash or a control character (and, with `stopAtNonASCII`, a byte
    /// of 0x80 or more); the caller checks the remaining bytes one by one, so
    /// the result may stop early at a byte that needs nothing.
    @inline(__always)
    static func skip(_ raw: UnsafeRawPointer, count: Int, from start: Int, stopAtNonASCII: Bool) -> Int {
        var index = start
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let nonASCIIMask: UInt64 = stopAtNonASCII ? ~0 : 0
        while index + 8 <= count {
            let word = raw.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            let quote = word ^ (ones &* UInt64(UInt8(ascii: "\"")))
            let backslash = word ^ (ones &* UInt64(UInt8(ascii: "\\")))
            // A byte is flagged when it is zero after the xor or below 0x20
            // (and, when asked, when its own high bit is set).
            let special =
                ((quote &- ones) & ~quote) | ((backslash &- ones) & ~backslash) | ((word &- ones &* 0x20) & ~word)
                | (word & nonASCIIMask)
            if special & highs != 0 { break }
            index += 8
        }
        return index
    }
}

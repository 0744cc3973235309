import CairnProtocol
import Testing

private typealias Frame = FrameDecoder.Frame

private func line(_ text: String) -> Frame { .line(Array(text.utf8)) }

/// Drives a decoder the way a connection does: a line that starts with `@`
/// announces an attachment, `@K<n>` one to keep and `@D<n>` one to drop.
private struct Driver {
    var decoder: FrameDecoder
    var frames: [Frame] = []

    init(maxLineBytes: Int) { decoder = FrameDecoder(maxLineBytes: maxLineBytes) }

    mutating func feed(_ bytes: some Collection<UInt8>) {
        decoder.feed(Array(bytes))
        drain()
    }

    mutating func feed(_ text: String) { feed(Array(text.utf8)) }

    mutating func drain() {
        while let frame = decoder.next() {
            frames.append(frame)
            if case .line(let bytes) = frame, let (length, keep) = announcement(bytes) {
                decoder.expectAttachment(length, keep: keep)
            }
        }
    }

    private func announcement(_ bytes: [UInt8]) -> (Int, Bool)? {
        guard bytes.count >= 3, bytes[0] == UInt8(ascii: "@"),
            let length = Int(String(decoding: bytes[2...], as: UTF8.self))
        else { return nil }
        return (length, bytes[1] == UInt8(ascii: "K"))
    }
}

/// The frames a whole stream yields when fed in the given pieces.
private func frames(_ pieces: [[UInt8]], maxLineBytes: Int) -> [Frame] {
    var driver = Driver(maxLineBytes: maxLineBytes)
    for piece in pieces { driver.feed(piece) }
    return driver.frames
}

/// One element of a generated stream, with the frames it must yield.
private enum Item {
    case line([UInt8])
    case oversized([UInt8])
    case attachment(header: [UInt8], body: [UInt8], keep: Bool)

    var bytes: [UInt8] {
        switch self {
        case .line(let bytes), .oversized(let bytes): bytes + [0x0A]
        case .attachment(let header, let body, _): header + [0x0A] + body
        }
    }

    var expected: [Frame] {
        switch self {
        case .line(let bytes): [.line(bytes)]
        case .oversized: [.lineTooLarge]
        case .attachment(let header, let body, let keep): keep ? [.line(header), .attachment(body)] : [.line(header)]
        }
    }
}

/// A random valid stream for a decoder with `maxLineBytes`.
private func randomItems(_ rng: inout SplitMix64, maxLineBytes: Int) -> [Item] {
    func randomBytes(_ count: Int, allowNewline: Bool) -> [UInt8] {
        (0..<count).map { _ in
            while true {
                let byte = UInt8.random(in: 0...255, using: &rng)
                if byte == 0x0A && !allowNewline { continue }
                // Keep `@` out of the first position of plain lines by never producing it.
                if byte == UInt8(ascii: "@") { continue }
                return byte
            }
        }
    }
    return (0..<Int.random(in: 0...12, using: &rng)).map { _ in
        switch Int.random(in: 0..<6, using: &rng) {
        case 0:
            return .oversized(
                randomBytes(Int.random(in: (maxLineBytes + 1)...(maxLineBytes * 3), using: &rng), allowNewline: false))
        case 1, 2:
            let keep = Bool.random(using: &rng)
            let body = randomBytes(Int.random(in: 0...40, using: &rng), allowNewline: true)
            return .attachment(header: Array("@\(keep ? "K" : "D")\(body.count)".utf8), body: body, keep: keep)
        case 3:
            // Lines with CRs, blank lines, lines at the limit.
            let pick = Int.random(in: 0..<3, using: &rng)
            if pick == 0 { return .line([]) }
            if pick == 1 { return .line(randomBytes(maxLineBytes, allowNewline: false)) }
            return .line(
                randomBytes(Int.random(in: 0...min(4, maxLineBytes - 1), using: &rng), allowNewline: false) + [0x0D])
        default:
            return .line(randomBytes(Int.random(in: 0...maxLineBytes, using: &rng), allowNewline: false))
        }
    }
}

/// Cuts `bytes` at random points.
private func randomPieces(_ bytes: [UInt8], _ rng: inout SplitMix64) -> [[UInt8]] {
    var pieces: [[UInt8]] = []
    var index = 0
    while index < bytes.count {
        let size = Int.random(in: 0...min(bytes.count - index, Int.random(in: 1...64, using: &rng)), using: &rng)
        pieces.append(Array(bytes[index..<index + size]))
        index += size
    }
    return pieces
}

@Suite("FrameDecoder")
struct FrameDecoderTests {
    // MARK: Lines

    @Test func linesAreSplitAtNewlines() {
        var driver = Driver(maxLineBytes: 64)
        driver.feed("one\ntwo\n\nthree\n")
        #expect(driver.frames == [line("one"), line("two"), line(""), line("three")])
        #expect(driver.decoder.isIdle)
        #expect(driver.decoder.bufferedByteCount == 0)
    }

    @Test func partialLineWaitsForItsNewline() {
        var decoder = FrameDecoder(maxLineBytes: 64)
        decoder.feed(Array("abc".utf8))
        #expect(decoder.next() == nil)
        #expect(!decoder.isIdle)
        #expect(decoder.bufferedByteCount == 3)
        decoder.feed(Array("def".utf8))
        #expect(decoder.next() == nil)
        decoder.feed(Array("\nx".utf8))
        #expect(decoder.next() == line("abcdef"))
        #expect(decoder.next() == nil)
        #expect(decoder.bufferedByteCount == 1)
    }

    @Test func nextWithoutInputIsNil() {
        var decoder = FrameDecoder(maxLineBytes: 8)
        #expect(decoder.next() == nil)
        decoder.feed([UInt8]())
        #expect(decoder.next() == nil)
        #expect(decoder.isIdle)
    }

    @Test func carriageReturnIsKeptAndIsNoSeparator() {
        var driver = Driver(maxLineBytes: 64)
        driver.feed("a\r\nb\rc\n\r\n")
        #expect(driver.frames == [line("a\r"), line("b\rc"), line("\r")])
    }

    @Test func everySplitPointGivesTheSameLines() {
        let stream = Array("{\"jsonrpc\":\"2.0\",\"id\":1}\r\n\nsecond line\nthird\n".utf8)
        let whole = frames([stream], maxLineBytes: 64)
        #expect(whole == [line("{\"jsonrpc\":\"2.0\",\"id\":1}\r"), line(""), line("second line"), line("third")])
        for cut in 0...stream.count {
            #expect(frames([Array(stream[..<cut]), Array(stream[cut...])], maxLineBytes: 64) == whole, "cut at \(cut)")
        }
        #expect(frames(stream.map { [$0] }, maxLineBytes: 64) == whole)
    }

    // MARK: Oversized lines

    @Test func lineAtTheLimitIsALine() {
        var driver = Driver(maxLineBytes: 8)
        driver.feed("12345678")
        #expect(driver.frames.isEmpty)
        driver.feed("\n")
        #expect(driver.frames == [line("12345678")])
    }

    @Test func completeLineOverTheLimitIsReportedOnce() {
        var driver = Driver(maxLineBytes: 8)
        driver.feed("123456789\nok\n")
        #expect(driver.frames == [.lineTooLarge, line("ok")])
        #expect(driver.decoder.isIdle)
    }

    @Test func longLineIsReportedOnceAndSkippedUntilItsNewline() {
        var driver = Driver(maxLineBytes: 8)
        driver.feed("first\n123456789")
        #expect(driver.frames == [line("first"), .lineTooLarge])
        #expect(driver.decoder.bufferedByteCount == 0)
        for _ in 0..<100 {
            driver.feed("xxxxxxxxxxxxxxxx")
            #expect(driver.decoder.bufferedByteCount == 0)
        }
        #expect(driver.frames == [line("first"), .lineTooLarge])
        driver.feed("tail\nnext\n")
        #expect(driver.frames == [line("first"), .lineTooLarge, line("next")])
        #expect(driver.decoder.isIdle)
    }

    @Test func newlineRightAfterTheDetectionEndsTheSkip() {
        var driver = Driver(maxLineBytes: 4)
        driver.feed("abcde")
        driver.feed("\n")
        driver.feed("ok\n")
        #expect(driver.frames == [.lineTooLarge, line("ok")])
    }

    @Test func twoOversizedLinesInARowAreTwoReports() {
        var driver = Driver(maxLineBytes: 4)
        driver.feed("abcdefgh\nijklmnop")
        driver.feed("qrst\nok\n")
        #expect(driver.frames == [.lineTooLarge, .lineTooLarge, line("ok")])
    }

    @Test func skippingTwentyMebibytesStaysBounded() {
        let limit = 1 << 20
        let piece = [UInt8](repeating: UInt8(ascii: "a"), count: 64 << 10)
        var driver = Driver(maxLineBytes: limit)
        var reported = false
        var fed = 0
        while fed < 20 << 20 {
            driver.feed(piece)
            fed += piece.count
            let buffered = driver.decoder.bufferedByteCount
            if driver.frames.isEmpty {
                #expect(buffered <= limit + piece.count)
            } else {
                reported = true
                #expect(buffered <= piece.count, "buffered \(buffered) bytes after \(fed)")
            }
        }
        #expect(reported)
        #expect(driver.frames == [.lineTooLarge])
        driver.feed(Array("aaaa\n{\"ok\":1}\n".utf8))
        #expect(driver.frames == [.lineTooLarge, line("{\"ok\":1}")])
        #expect(driver.decoder.bufferedByteCount == 0)
    }

    @Test func skippingAtTheDefaultLimitStaysBounded() {
        let limit = 16 << 20
        let piece = [UInt8](repeating: 0x20, count: 64 << 10)
        var driver = Driver(maxLineBytes: limit)
        var maximum = 0
        for _ in 0..<(20 << 20) / piece.count {
            driver.feed(piece)
            maximum = max(maximum, driver.decoder.bufferedByteCount)
        }
        #expect(maximum <= limit + piece.count)
        #expect(driver.frames == [.lineTooLarge])
        #expect(driver.decoder.bufferedByteCount == 0)
        driver.feed(Array("\nnext\n".utf8))
        #expect(driver.frames == [.lineTooLarge, line("next")])
    }

    // MARK: Attachments

    @Test func keptAttachmentFollowsItsLine() {
        var driver = Driver(maxLineBytes: 64)
        driver.feed("@K5\nab\ncdnext\n")
        #expect(driver.frames == [line("@K5"), .attachment(Array("ab\ncd".utf8)), line("next")])
        #expect(driver.decoder.isIdle)
    }

    @Test func droppedAttachmentIsSkipped() {
        var driver = Driver(maxLineBytes: 64)
        driver.feed("@D5\nab\ncdnext\n")
        #expect(driver.frames == [line("@D5"), line("next")])
        #expect(driver.decoder.isIdle)
    }

    @Test func zeroLengthAttachments() {
        var driver = Driver(maxLineBytes: 64)
        driver.feed("@K0\n@D0\nnext\n")
        #expect(driver.frames == [line("@K0"), .attachment([]), line("@D0"), line("next")])
    }

    @Test func zeroLengthAttachmentAtTheEndOfTheInput() {
        var driver = Driver(maxLineBytes: 64)
        driver.feed("@K0\n")
        #expect(driver.frames == [line("@K0"), .attachment([])])
        #expect(driver.decoder.isIdle)
    }

    @Test func attachmentIsNotBoundByTheLineLimit() {
        var driver = Driver(maxLineBytes: 8)
        let body = [UInt8](repeating: UInt8(ascii: "z"), count: 100)
        driver.feed(Array("@K100\n".utf8) + body + Array("ok\n".utf8))
        #expect(driver.frames == [line("@K100"), .attachment(body), line("ok")])
    }

    @Test func attachmentSplitAcrossFeeds() {
        let body = (0..<200).map { UInt8(truncatingIfNeeded: $0 &* 37) }
        let stream = Array("@K200\n".utf8) + body + Array("after\n".utf8)
        let expected = [line("@K200"), .attachment(body), line("after")]
        for cut in 0...stream.count {
            for second in cut...min(stream.count, cut + 7) {
                let pieces = [Array(stream[..<cut]), Array(stream[cut..<second]), Array(stream[second...])]
                #expect(frames(pieces, maxLineBytes: 16) == expected, "cuts at \(cut), \(second)")
            }
        }
        var driver = Driver(maxLineBytes: 16)
        driver.feed("@K200\n")
        driver.feed(body[..<50])
        #expect(driver.frames == [line("@K200")])
        #expect(!driver.decoder.isIdle)
        #expect(driver.decoder.bufferedByteCount == 50)
        driver.feed(body[50...])
        #expect(driver.frames == Array(expected.dropLast()))
        #expect(driver.decoder.isIdle)
    }

    @Test func droppingALargeAttachmentBuffersNothing() {
        var driver = Driver(maxLineBytes: 64)
        driver.feed("@D\(8 << 20)\n")
        let piece = [UInt8](repeating: 0x0A, count: 64 << 10)
        for _ in 0..<128 {
            driver.feed(piece)
            #expect(driver.decoder.bufferedByteCount == 0)
        }
        #expect(driver.frames == [line("@D\(8 << 20)")])
        driver.feed("next\n")
        #expect(driver.frames == [line("@D\(8 << 20)"), line("next")])
    }

    @Test func lineRightAfterAnAttachmentInTheSameFeed() {
        var driver = Driver(maxLineBytes: 64)
        driver.feed("@K3\nxyz@D2\n\n\n@K1\n\nend\n")
        #expect(
            driver.frames == [
                line("@K3"), .attachment(Array("xyz".utf8)), line("@D2"), line("@K1"), .attachment([0x0A]), line("end"),
            ])
    }

    @Test func attachmentMayBeAnnouncedBeforeItsBytesArrive() {
        var decoder = FrameDecoder(maxLineBytes: 64)
        decoder.feed(Array("req\n".utf8))
        #expect(decoder.next() == line("req"))
        decoder.expectAttachment(4, keep: true)
        #expect(decoder.next() == nil)
        #expect(!decoder.isIdle)
        decoder.feed([1, 2])
        #expect(decoder.next() == nil)
        decoder.feed([3, 4, 0x0A])
        #expect(decoder.next() == .attachment([1, 2, 3, 4]))
        #expect(decoder.next() == line(""))
    }

    // MARK: Property

    @Test(arguments: 0..<200)
    func anySplitOfAValidStreamYieldsTheSameFrames(seed: UInt64) {
        var rng = SplitMix64(seed: seed &* 7919 &+ 11)
        let limit = Int.random(in: 4...40, using: &rng)
        let items = randomItems(&rng, maxLineBytes: limit)
        let stream = items.flatMap(\.bytes)
        let expected = items.flatMap(\.expected)
        #expect(frames([stream], maxLineBytes: limit) == expected)
        for _ in 0..<8 {
            let pieces = randomPieces(stream, &rng)
            #expect(frames(pieces, maxLineBytes: limit) == expected, "seed \(seed), pieces \(pieces.map(\.count))")
        }
        #expect(frames(stream.map { [$0] }, maxLineBytes: limit) == expected, "seed \(seed), byte by byte")
    }
}

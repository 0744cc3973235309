/// The fuzzer's one source of randomness: xoshiro256** seeded through
/// SplitMix64, so that a seed names one sequence of requests.
///
/// Every helper takes exactly one draw, whatever its bounds: a value the
/// generator learned from the server (an upload's offset, an id) may
/// change a bound, but never how many draws follow, so the rest of the
/// sequence stays that of the seed.
public struct FuzzRandom: RandomNumberGenerator, Sendable {
    private var state: (UInt64, UInt64, UInt64, UInt64)

    /// A generator for `seed`.
    public init(seed: UInt64) {
        var mix = seed
        state = (Self.splitMix(&mix), Self.splitMix(&mix), Self.splitMix(&mix), Self.splitMix(&mix))
    }

    /// The seed of stream `stream` derived from `seed` (one per connection).
    public static func derive(_ seed: UInt64, stream: UInt64) -> UInt64 {
        var mix = seed ^ (stream &* 0x9E37_79B9_7F4A_7C15)
        return splitMix(&mix)
    }

    private static func splitMix(_ value: inout UInt64) -> UInt64 {
        value &+= 0x9E37_79B9_7F4A_7C15
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        let result = ((state.1 &* 5) << 7 | (state.1 &* 5) >> 57) &* 9
        let t = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= t
        state.3 = state.3 << 45 | state.3 >> 19
        return result
    }

    /// A number in `0..<bound`; `0` when `bound` is not positive.
    public mutating func below(_ bound: Int) -> Int {
        let draw = next()
        guard bound > 0 else { return 0 }
        return Int(draw % UInt64(bound))
    }

    /// A number in `range`.
    public mutating func within(_ range: ClosedRange<Int>) -> Int {
        range.lowerBound + below(range.count)
    }

    /// True in `percent` of the draws.
    public mutating func percent(_ percent: Int) -> Bool {
        below(100) < percent
    }

    /// One element of `elements`, which must not be empty.
    public mutating func pick<Element>(_ elements: [Element]) -> Element {
        elements[below(elements.count)]
    }

    /// A size that is mostly small: below `small` nine times in ten, else
    /// below `large`.
    public mutating func size(small: Int, large: Int) -> Int {
        let draw = next()
        let bound = draw % 10 == 0 ? large : small
        return bound > 0 ? Int((draw >> 8) % UInt64(bound)) : 0
    }

    /// `count` random bytes, from `count / 8 + 1` draws.
    public mutating func bytes(_ count: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count + 8)
        while bytes.count < count {
            withUnsafeBytes(of: next().littleEndian) { bytes.append(contentsOf: $0) }
        }
        bytes.removeLast(bytes.count - count)
        return bytes
    }
}

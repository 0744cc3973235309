/// A tenant's name: `^[a-z0-9][a-z0-9._-]{0,62}$`.
public struct TenantID: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String

    /// Validates `rawValue`; `nil` when it is not a tenant name.
    public init?(_ rawValue: String) {
        guard Self.isValid(rawValue) else { return nil }
        self.rawValue = rawValue
    }

    public var description: String { rawValue }

    /// Whether `text` is a tenant name.
    public static func isValid(_ text: String) -> Bool {
        let utf8 = Array(text.utf8)
        guard (1...63).contains(utf8.count), isLowerAlnum(utf8[0]) else { return false }
        return utf8.dropFirst().allSatisfy {
            isLowerAlnum($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-")
        }
    }
}

@inline(__always)
private func isLowerAlnum(_ c: UInt8) -> Bool {
    (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(c) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c)
}

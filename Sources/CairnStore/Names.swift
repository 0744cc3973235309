/// A provider's id: `^[a-z0-9][a-z0-9._:-]{0,127}$`, e.g. `excititor:oci-openvex`.
public struct ProviderID: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String

    /// Validates `rawValue`; `nil` when it is not a provider id.
    public init?(_ rawValue: String) {
        let utf8 = Array(rawValue.utf8)
        guard (1...128).contains(utf8.count), isLowerAlnum(utf8[0]) else { return nil }
        let allowed = utf8.dropFirst().allSatisfy {
            isLowerAlnum($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-")
                || $0 == UInt8(ascii: ":")
        }
        guard allowed else { return nil }
        self.rawValue = rawValue
    }

    public var description: String { rawValue }
}

@inline(__always)
private func isLowerAlnum(_ c: UInt8) -> Bool {
    (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(c) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c)
}

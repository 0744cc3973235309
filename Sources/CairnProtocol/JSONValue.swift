/// A JSON value as it travels on the wire.
///
/// `JSONValue` is the in-memory form of one JSON text: what ``JSONParser``
/// produces and what ``JSONValue/serialized()`` writes. Numbers keep their
/// literal text (see ``JSONNumber``) so that integers beyond `Int64`, `-0`
/// and `1.0` survive a round trip unchanged and callers can tell them apart.
/// Objects keep their key order (see ``JSONObject``).
///
/// It deliberately knows nothing about JSON-RPC; requests and responses are
/// built on top of it.
public enum JSONValue: Sendable, Equatable {
    /// The JSON literal `null`.
    case null
    /// `true` or `false`.
    case bool(Bool)
    /// A number, kept as its literal text.
    case number(JSONNumber)
    /// A string of Unicode text.
    case string(String)
    /// An ordered list of values.
    case array([JSONValue])
    /// A set of name/value pairs in insertion order.
    case object(JSONObject)
}

/// A JSON number, kept as the exact literal it was parsed from or produced as.
///
/// Keeping the literal means nothing is lost between parsing and serializing:
/// `9223372036854775808`, `-0`, `1.0` and `1e3` are written back as they came.
/// The typed views (``int64``, ``isInteger``, ``double``) interpret the
/// literal on demand. Two numbers are equal when their literals are equal, so
/// `1` and `1.0` are different values, as the wire contract needs them to be
/// (a fraction is not an integer).
public struct JSONNumber: Sendable, Equatable {
    /// The literal text of the number, always valid under the JSON number grammar.
    public let literal: String

    /// Creates a number from its literal text; the caller guarantees the grammar.
    init(uncheckedLiteral literal: String) {
        self.literal = literal
    }

    /// Creates an integer number.
    public init(_ value: Int64) {
        literal = String(value)
    }

    /// Creates an integer number; values over `Int64.max` are kept exactly but have no ``int64`` view.
    public init(_ value: UInt64) {
        literal = String(value)
    }

    /// Creates an integer number.
    public init(_ value: Int) {
        literal = String(value)
    }

    /// Creates a number from a finite double, written in Swift's shortest round-tripping form
    /// (`1.0`, `0.1`, `1e+20`).
    ///
    /// JSON has no NaN or infinity, so a non-finite value is a programming error and traps.
    ///
    /// - Parameter value: a finite double.
    public init(_ value: Double) {
        precondition(value.isFinite, "JSON cannot represent \(value)")
        literal = value.description
    }

    /// The value as an `Int64`, when the literal is an integer (no fraction, no exponent)
    /// within `Int64`'s range; `nil` otherwise. `-0` gives `0`.
    public var int64: Int64? {
        guard isInteger else { return nil }
        var utf8 = literal.utf8[...]
        let negative = utf8.first == UInt8(ascii: "-")
        if negative { utf8 = utf8.dropFirst() }
        guard !utf8.isEmpty else { return nil }
        // Accumulate as a negative number so that Int64.min is reachable.
        var result: Int64 = 0
        for byte in utf8 {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            let (shifted, overflow1) = result.multipliedReportingOverflow(by: 10)
            let (next, overflow2) = shifted.subtractingReportingOverflow(Int64(byte &- UInt8(ascii: "0")))
            guard !overflow1, !overflow2 else { return nil }
            result = next
        }
        if negative { return result }
        return result == .min ? nil : -result
    }

    /// Whether the literal is written as an integer: no `.`, `e` or `E`.
    ///
    /// This looks at the text only: `1e3` is not an integer, and `1.0` is not either,
    /// while `99999999999999999999` is one (with no ``int64`` view).
    public var isInteger: Bool {
        !literal.utf8.contains { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }
    }

    /// The value as the nearest double; a literal beyond `Double`'s range gives an infinity.
    public var double: Double {
        Double(literal) ?? .nan
    }
}

/// A JSON object: name/value pairs that keep their insertion order.
///
/// Each key occurs at most once. Where a JSON text repeats a key, or
/// ``init(_:)`` is given one twice, the last value wins and keeps the
/// position of the first occurrence. Setting an existing key replaces its value
/// in place; setting a new key appends it; setting `nil` removes the key.
///
/// Equality is JSON's: two objects are equal when they have the same keys with
/// equal values, whatever the order. Serialization follows insertion order.
public struct JSONObject: Sendable, Equatable {
    /// One name/value pair.
    struct Entry: Sendable {
        var key: String
        var value: JSONValue
    }

    /// The pairs in insertion order, keys unique.
    private(set) var entries: [Entry]

    /// Key → position in `entries`, kept only once an object is large enough for a linear scan to hurt.
    private var index: [String: Int]?

    /// Objects with more keys than this get a hash index.
    private static let indexThreshold = 12

    /// Creates an empty object.
    public init() {
        entries = []
        index = nil
    }

    /// Creates an object from pairs in order; for a repeated key the last value wins,
    /// at the position of the key's first occurrence.
    ///
    /// - Parameter pairs: the keys and values, in the order to keep.
    public init(_ pairs: [(String, JSONValue)]) {
        self.init()
        entries.reserveCapacity(pairs.count)
        for (key, value) in pairs {
            self[key] = value
        }
    }

    /// The keys in insertion order, each once.
    public var keys: [String] {
        entries.map(\.key)
    }

    /// The number of keys.
    public var count: Int {
        entries.count
    }

    /// The value for `key`, or `nil` when the object has no such key.
    ///
    /// Setting a value replaces an existing key's value in place or appends a new key;
    /// setting `nil` removes the key.
    public subscript(key: String) -> JSONValue? {
        get {
            position(of: key).map { entries[$0].value }
        }
        set {
            if let newValue {
                if let position = position(of: key) {
                    entries[position].value = newValue
                } else {
                    entries.append(Entry(key: key, value: newValue))
                    if index != nil {
                        index![key] = entries.count - 1
                    } else if entries.count > Self.indexThreshold {
                        rebuildIndex()
                    }
                }
            } else if let position = position(of: key) {
                entries.remove(at: position)
                index = nil
                if entries.count > Self.indexThreshold { rebuildIndex() }
            }
        }
    }

    /// Where `key` is in `entries`.
    private func position(of key: String) -> Int? {
        if let index { return index[key] }
        return entries.firstIndex { $0.key == key }
    }

    private mutating func rebuildIndex() {
        var index: [String: Int] = [:]
        index.reserveCapacity(entries.count)
        for (position, entry) in entries.enumerated() {
            index[entry.key] = position
        }
        self.index = index
    }

    /// Whether two objects have the same keys with equal values, in any order.
    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        guard lhs.entries.count == rhs.entries.count else { return false }
        // Fast path: same keys in the same order.
        if zip(lhs.entries, rhs.entries).allSatisfy({ $0.key == $1.key }) {
            return zip(lhs.entries, rhs.entries).allSatisfy { $0.value == $1.value }
        }
        return lhs.entries.allSatisfy { rhs[$0.key] == $0.value }
    }
}

extension JSONValue: ExpressibleByStringLiteral {
    /// Creates a `.string`.
    public init(stringLiteral value: String) {
        self = .string(value)
    }
}

extension JSONValue: ExpressibleByIntegerLiteral {
    /// Creates an integer `.number`.
    public init(integerLiteral value: Int64) {
        self = .number(JSONNumber(value))
    }
}

extension JSONValue: ExpressibleByBooleanLiteral {
    /// Creates a `.bool`.
    public init(booleanLiteral value: Bool) {
        self = .bool(value)
    }
}

extension JSONValue: ExpressibleByArrayLiteral {
    /// Creates an `.array`.
    public init(arrayLiteral elements: JSONValue...) {
        self = .array(elements)
    }
}

extension JSONValue: ExpressibleByDictionaryLiteral {
    /// Creates an `.object` with the keys in the order written.
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(JSONObject(elements))
    }
}

extension JSONValue: ExpressibleByNilLiteral {
    /// Creates `.null`.
    public init(nilLiteral: ()) {
        self = .null
    }
}

extension JSONValue {
    /// The member `key` when this is an object that has it; `nil` otherwise (also for non-objects).
    public subscript(key: String) -> JSONValue? {
        objectValue?[key]
    }

    /// The text when this is a `.string`.
    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// The object when this is an `.object`.
    public var objectValue: JSONObject? {
        if case .object(let value) = self { return value }
        return nil
    }

    /// The elements when this is an `.array`.
    public var arrayValue: [JSONValue]? {
        if case .array(let value) = self { return value }
        return nil
    }

    /// The truth value when this is a `.bool`.
    public var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }
}

extension JSONValue: CustomStringConvertible {
    /// The compact JSON text of the value, as ``serialized()`` writes it.
    public var description: String {
        String(decoding: serialized(), as: UTF8.self)
    }
}

import Foundation

/// Reads `list<string>` input in the forms `providers.config.set` accepts.
///
/// A value may be a JSON array of strings, one string holding a JSON array, or
/// one string of newline-separated items. Only shape is checked here; what the
/// items mean (image references, say) is for ``Readiness``.
public enum ListValue {
    /// Reads a decoded JSON value (from `JSONSerialization`): an array of strings, or a string.
    ///
    /// - Parameter jsonValue: The value as `JSONSerialization` produced it.
    /// - Returns: The items, or `nil` when the value is neither form (a number, an array holding a non-string…).
    public static func parse(jsonValue: Any) -> [String]? {
        if let text = jsonValue as? String { return parse(text: text) }
        guard let array = jsonValue as? [Any] else { return nil }
        var items: [String] = []
        for element in array {
            guard let item = element as? String else { return nil }
            items.append(item)
        }
        return items
    }

    /// Reads one string: a JSON array of strings when it starts with `[`, else newline-separated items.
    ///
    /// Newline-separated items are trimmed of surrounding whitespace and empty
    /// lines are dropped; items of a JSON array are kept exactly.
    ///
    /// - Parameter text: The string value.
    /// - Returns: The items, or `nil` when text starting with `[` is not a JSON array of strings.
    public static func parse(text: String) -> [String]? {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.hasPrefix("[") {
            guard let decoded = try? JSONSerialization.jsonObject(with: Data(trimmed.utf8), options: []),
                decoded is [Any]
            else { return nil }
            return parse(jsonValue: decoded)
        }
        return text.split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
    }
}

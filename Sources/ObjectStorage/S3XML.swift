/// A small, strict XML reader for S3's answers, and the escaping for the few bodies it sends.
///
/// Reads one root element with nested elements, attributes, character data, CDATA sections, the
/// five predefined entities and character references. Skips the XML declaration, processing
/// instructions and comments. Refuses a DOCTYPE (no entity definitions, so no entity expansion),
/// unknown entities, mismatched tags, bad UTF-8, nesting deeper than ``maximumDepth`` and anything
/// after the root element. Namespace prefixes are dropped from names: S3 uses one default namespace.
///
/// Not a general XML library: no DTDs, no namespace resolution, no streaming.
enum S3XML {
    /// An element: its local name, attributes, child elements and its own character data.
    struct Element: Sendable, Equatable {
        var name: String
        var attributes: [String: String] = [:]
        var children: [Element] = []
        /// The character data directly inside this element, concatenated (children's text not included).
        var text: String = ""

        /// The first child with this name.
        func child(_ name: String) -> Element? {
            children.first { $0.name == name }
        }

        /// Every child with this name, in order.
        func children(_ name: String) -> [Element] {
            children.filter { $0.name == name }
        }

        /// The text of the first child with this name.
        func text(of name: String) -> String? {
            child(name)?.text
        }
    }

    /// Why a document was refused, with the byte offset where it was noticed.
    struct SyntaxError: Error, CustomStringConvertible {
        var reason: String
        var offset: Int
        var description: String { "malformed XML at byte \(offset): \(reason)" }
    }

    /// How deep elements may nest.
    static let maximumDepth = 64

    /// Parses a whole document and returns its root element.
    static func parse(_ bytes: some Collection<UInt8>) throws(SyntaxError) -> Element {
        var reader = Reader(bytes: Array(bytes))
        return try reader.document()
    }

    /// Escapes text for element content or an attribute value: `& < > " '`.
    static func escape(_ text: String) -> String {
        var escaped = ""
        escaped.reserveCapacity(text.utf8.count)
        for character in text.unicodeScalars {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&apos;"
            case "\r": escaped += "&#13;"
            default: escaped.unicodeScalars.append(character)
            }
        }
        return escaped
    }

    private struct Reader {
        let bytes: [UInt8]
        var index = 0

        init(bytes: [UInt8]) {
            self.bytes = bytes
        }

        mutating func document() throws(SyntaxError) -> Element {
            if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { index = 3 }
            try skipMisc()
            guard peek() == UInt8(ascii: "<") else { throw fail("no root element") }
            let root = try element(depth: 1)
            try skipMisc()
            guard index == bytes.count else { throw fail("content after the root element") }
            return root
        }

        /// White space, comments, processing instructions (the declaration among them); a DOCTYPE is refused.
        mutating func skipMisc() throws(SyntaxError) {
            while true {
                skipSpace()
                if starts(with: "<?") {
                    try skip(past: "?>")
                } else if starts(with: "<!--") {
                    try skip(past: "-->")
                } else if starts(with: "<!") {
                    throw fail("a DOCTYPE or other declaration")
                } else {
                    return
                }
            }
        }

        mutating func element(depth: Int) throws(SyntaxError) -> Element {
            guard depth <= S3XML.maximumDepth else { throw fail("elements nested deeper than \(S3XML.maximumDepth)") }
            index += 1  // "<"
            let qualifiedName = try name()
            var element = Element(name: localName(qualifiedName))
            while true {
                skipSpace()
                if starts(with: "/>") {
                    index += 2
                    return element
                }
                if peek() == UInt8(ascii: ">") {
                    index += 1
                    break
                }
                let attribute = try name()
                skipSpace()
                guard peek() == UInt8(ascii: "=") else { throw fail("attribute \(attribute) without a value") }
                index += 1
                skipSpace()
                guard let quote = peek(), quote == UInt8(ascii: "\"") || quote == UInt8(ascii: "'") else {
                    throw fail("attribute \(attribute) value not quoted")
                }
                index += 1
                guard let end = bytes[index...].firstIndex(of: quote) else { throw fail("unterminated attribute") }
                let value = try decodeText(bytes[index..<end])
                index = end + 1
                guard element.attributes.updateValue(value, forKey: attribute) == nil else {
                    throw fail("attribute \(attribute) repeated")
                }
            }
            var text: [UInt8] = []
            while true {
                guard let byte = peek() else { throw fail("<\(qualifiedName)> not closed") }
                if byte != UInt8(ascii: "<") {
                    let end = bytes[index...].firstIndex(of: UInt8(ascii: "<")) ?? bytes.count
                    text += try decodeBytes(bytes[index..<end])
                    index = end
                } else if starts(with: "</") {
                    index += 2
                    let closing = try name()
                    skipSpace()
                    guard closing == qualifiedName, peek() == UInt8(ascii: ">") else {
                        throw fail("</\(closing)> closes <\(qualifiedName)>")
                    }
                    index += 1
                    guard let decoded = String(validating: text, as: UTF8.self) else { throw fail("text is not UTF-8") }
                    element.text = decoded
                    return element
                } else if starts(with: "<![CDATA[") {
                    index += 9
                    let start = index
                    try skip(past: "]]>")
                    text += bytes[start..<(index - 3)]
                } else if starts(with: "<!--") {
                    try skip(past: "-->")
                } else if starts(with: "<?") {
                    try skip(past: "?>")
                } else if starts(with: "<!") {
                    throw fail("a declaration inside an element")
                } else {
                    element.children.append(try self.element(depth: depth + 1))
                }
            }
        }

        mutating func name() throws(SyntaxError) -> String {
            let start = index
            while let byte = peek(), !isSpace(byte), byte != UInt8(ascii: ">"), byte != UInt8(ascii: "/"),
                byte != UInt8(ascii: "="), byte != UInt8(ascii: "<")
            {
                index += 1
            }
            guard index > start, let name = String(validating: bytes[start..<index], as: UTF8.self) else {
                throw fail("a name was expected")
            }
            return name
        }

        func localName(_ name: String) -> String {
            guard let colon = name.lastIndex(of: ":") else { return name }
            return String(name[name.index(after: colon)...])
        }

        func decodeText(_ slice: ArraySlice<UInt8>) throws(SyntaxError) -> String {
            guard let text = String(validating: try decodeBytes(slice), as: UTF8.self) else {
                throw fail("text is not UTF-8")
            }
            return text
        }

        /// Character data with its entity and character references replaced.
        func decodeBytes(_ slice: ArraySlice<UInt8>) throws(SyntaxError) -> [UInt8] {
            guard slice.contains(UInt8(ascii: "&")) else { return Array(slice) }
            var decoded: [UInt8] = []
            var position = slice.startIndex
            while position < slice.endIndex {
                let byte = slice[position]
                guard byte == UInt8(ascii: "&") else {
                    decoded.append(byte)
                    position += 1
                    continue
                }
                guard let semicolon = slice[position...].firstIndex(of: UInt8(ascii: ";")), semicolon - position <= 10
                else { throw fail("unterminated entity") }
                let entity = String(decoding: slice[(position + 1)..<semicolon], as: UTF8.self)
                switch entity {
                case "amp": decoded.append(UInt8(ascii: "&"))
                case "lt": decoded.append(UInt8(ascii: "<"))
                case "gt": decoded.append(UInt8(ascii: ">"))
                case "quot": decoded.append(UInt8(ascii: "\""))
                case "apos": decoded.append(UInt8(ascii: "'"))
                default:
                    let scalarValue: UInt32?
                    if entity.hasPrefix("#x") {
                        scalarValue = UInt32(entity.dropFirst(2), radix: 16)
                    } else if entity.hasPrefix("#") {
                        scalarValue = UInt32(entity.dropFirst(1), radix: 10)
                    } else {
                        throw fail("unknown entity &\(entity);")
                    }
                    guard let scalarValue, scalarValue != 0, let scalar = Unicode.Scalar(scalarValue) else {
                        throw fail("bad character reference &\(entity);")
                    }
                    decoded += Array(String(Character(scalar)).utf8)
                }
                position = semicolon + 1
            }
            return decoded
        }

        mutating func skip(past terminator: String) throws(SyntaxError) {
            let pattern = Array(terminator.utf8)
            while index + pattern.count <= bytes.count {
                if bytes[index..<(index + pattern.count)].elementsEqual(pattern) {
                    index += pattern.count
                    return
                }
                index += 1
            }
            throw fail("\(terminator) missing")
        }

        mutating func skipSpace() {
            while let byte = peek(), isSpace(byte) { index += 1 }
        }

        func starts(with prefix: String) -> Bool {
            bytes[index...].starts(with: prefix.utf8)
        }

        func peek() -> UInt8? {
            index < bytes.count ? bytes[index] : nil
        }

        func isSpace(_ byte: UInt8) -> Bool {
            byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
        }

        func fail(_ reason: String) -> SyntaxError {
            SyntaxError(reason: reason, offset: index)
        }
    }
}

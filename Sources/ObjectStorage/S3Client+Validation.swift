extension S3Client {
    /// Checks a bucket name: 3 to 63 characters of `a-z 0-9 . -`, a letter or digit at each end.
    static func validate(bucket: String) throws(S3Error) {
        let bytes = Array(bucket.utf8)
        func isAlphanumeric(_ byte: UInt8) -> Bool {
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
        }
        guard (3...63).contains(bytes.count), isAlphanumeric(bytes.first!), isAlphanumeric(bytes.last!),
            bytes.allSatisfy({ isAlphanumeric($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") })
        else {
            throw S3Error(
                .invalidRequest,
                message:
                    "a bucket name is 3 to 63 of a-z, 0-9, '.' and '-', starting and ending with a letter or digit",
                resource: bucket)
        }
    }

    /// Checks a bucket name and a key.
    static func validate(bucket: String, key: String) throws(S3Error) {
        try validate(bucket: bucket)
        try validate(key: key, resource: "\(bucket)/\(key)", forXML: false)
    }

    /// Checks a key: 1 to 1,024 bytes of UTF-8; in an XML body, no character XML 1.0 cannot carry.
    static func validate(key: String, resource: String, forXML: Bool) throws(S3Error) {
        guard !key.isEmpty, key.utf8.count <= 1024 else {
            throw S3Error(.invalidRequest, message: "a key is 1 to 1,024 bytes of UTF-8", resource: resource)
        }
        if forXML, key.unicodeScalars.contains(where: { $0.value < 0x20 && $0 != "\t" && $0 != "\n" && $0 != "\r" }) {
            throw S3Error(
                .invalidRequest, message: "a key with a control character cannot go in an XML request",
                resource: resource)
        }
    }

    /// `Content-Type` and `x-amz-meta-*` headers, checked: names of letters, digits, `-` and `_`;
    /// values printable ASCII without white space at either end (so they arrive as sent and sign the same).
    static func objectHeaders(contentType: String?, metadata: [String: String]) throws(S3Error)
        -> [(name: String, value: String)]
    {
        var headers: [(name: String, value: String)] = []
        if let contentType {
            try checkHeaderValue(contentType, "Content-Type")
            headers.append((name: "content-type", value: contentType))
        }
        for (name, value) in metadata.sorted(by: { $0.key < $1.key }) {
            guard !name.isEmpty,
                name.unicodeScalars.allSatisfy({
                    $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "-" || $0 == "_")
                })
            else {
                throw S3Error(.invalidRequest, message: "the metadata name \(name) is not letters, digits, - and _")
            }
            try checkHeaderValue(value, "the metadata \(name)")
            headers.append((name: "x-amz-meta-\(name.lowercased())", value: value))
        }
        return headers
    }

    private static func checkHeaderValue(_ value: String, _ what: String) throws(S3Error) {
        guard value.unicodeScalars.allSatisfy({ (0x20...0x7E).contains($0.value) }),
            value.first != " ", value.last != " "
        else {
            throw S3Error(
                .invalidRequest, message: "\(what) must be printable ASCII without spaces at either end")
        }
    }
}

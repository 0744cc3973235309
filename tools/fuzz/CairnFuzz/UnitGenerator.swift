import CairnProtocol

/// One piece of the byte stream the fuzzer sends: usually a request line
/// with the raw bytes it announces, sometimes garbage, a batch, or bytes
/// that lie about their length.
public struct FuzzUnit: Sendable {
    /// Everything to send, in order.
    public var bytes: [UInt8]
    /// What the generator made, for failure messages.
    public var label: String
    /// The line (without newline) when the grammar made it valid and
    /// nothing was mutated.
    public var validLine: [UInt8]?
}

/// Makes ``FuzzUnit``s from the grammar (``RequestGrammar``) and the
/// mutations (``Mutations``), deterministically from a seed.
///
/// About a third of the units are valid calls; the rest are notifications,
/// mutated params and members, params of another method, unknown methods,
/// odd and invalid ids, attachments that lie or cannot be honoured,
/// batches mixing all of these, damaged bytes (truncations, invalid UTF-8,
/// duplicate keys, broken escapes), garbage (blank lines, random bytes,
/// scalars, deep nesting) and lines at and over `maxRequestBytes`.
public struct UnitGenerator: Sendable {
    /// What expensive units may still cost: lines over a MiB and raw bytes
    /// in attachments over 64 KiB.
    public struct Budget: Sendable {
        /// Lines longer than a MiB still allowed.
        public var hugeLines: Int
        /// Bytes still allowed in attachments longer than 64 KiB.
        public var bulkBytes: Int
        /// Every this many units the budget grows by one such line and two
        /// attachments at every limit, so that a long run spreads them out;
        /// `nil` never. Counted in units, so the sequence stays the seed's.
        public var refillEvery: Int?

        /// A budget.
        public init(hugeLines: Int, bulkBytes: Int, refillEvery: Int? = nil) {
            self.hugeLines = hugeLines
            self.bulkBytes = bulkBytes
            self.refillEvery = refillEvery
        }
    }

    /// The random source: the seed names the sequence.
    public var random: FuzzRandom
    /// What the requests are made from; the session updates it from answers.
    public var world: FuzzWorld
    /// What expensive units may still cost.
    public var budget: Budget
    /// Prefix of string ids.
    let tag: String
    private var counter = 0

    /// A generator for one connection.
    ///
    /// - Parameters:
    ///   - seed: the connection's seed (see ``FuzzRandom/derive(_:stream:)``).
    ///   - tag: the prefix of string ids, e.g. `c1`.
    public init(seed: UInt64, world: FuzzWorld, tag: String, budget: Budget) {
        random = FuzzRandom(seed: seed)
        self.world = world
        self.tag = tag
        self.budget = budget
    }

    /// The next unit.
    public mutating func next() -> FuzzUnit {
        counter += 1
        if let every = budget.refillEvery, every > 0, counter % every == 0 {
            budget.hugeLines += 1
            budget.bulkBytes += 2 * (world.limits.attachmentLimit + 1)
        }
        switch random.below(1000) {
        case 0..<300: return validCall(notification: false)
        case 300..<340: return validCall(notification: true)
        case 340..<620: return mutatedCall()
        case 620..<650: return otherMethodsParams()
        case 650..<680: return unknownMethod()
        case 680..<710: return oddId()
        case 710..<790: return attachmentTrick()
        case 790..<870: return batch()
        case 870..<930: return damagedLine()
        case 930..<990: return garbage()
        default: return overLongLine()
        }
    }

    // MARK: - Drafts

    /// A request before it is serialized.
    struct Draft {
        var jsonrpc: JSONValue? = "2.0"
        /// `nil` leaves the id out (a notification).
        var id: JSONValue?
        var method: JSONValue?
        var params: JSONValue?
        var extras: [(String, JSONValue)] = []
        var content: [UInt8]?
        var methodName: String
        var notes: [String] = []

        var paramsObject: JSONObject {
            get { params?.objectValue ?? JSONObject() }
            set { params = .object(newValue) }
        }

        func json(rotation: Int) -> JSONValue {
            var members: [(String, JSONValue)] = []
            if let jsonrpc { members.append(("jsonrpc", jsonrpc)) }
            if let id { members.append(("id", id)) }
            if let method { members.append(("method", method)) }
            if let params { members.append(("params", params)) }
            if !members.isEmpty {
                let shift = rotation % members.count
                members = Array(members[shift...] + members[..<shift])
            }
            return .object(JSONObject(members + extras))
        }
    }

    private mutating func nextId() -> JSONValue {
        let n = counter
        switch random.below(100) {
        case 0..<55: return .number(JSONNumber(n))
        case 55..<80: return .string("\(tag)-\(n)")
        case 80..<84: return .string("\(tag)-\(n)-é\"\\\u{1}💥")
        case 84..<88: return Mutations.literal("\(n).50")
        case 88..<92: return Mutations.literal("\(n)000000000000000000000000")
        case 92..<95: return .number(JSONNumber(-n))
        case 95..<97: return Mutations.literal("\(n)e2")
        case 97..<98: return .string("")
        default: return .null
        }
    }

    private mutating func draft(_ grammar: MethodGrammar, notification: Bool = false) -> Draft {
        let valid = grammar.valid(&random, world)
        let id = nextId()
        return Draft(
            id: notification ? nil : id, method: .string(grammar.name), params: .object(valid.params),
            content: valid.content, methodName: grammar.name)
    }

    private mutating func anyGrammar() -> MethodGrammar { random.pick(RequestGrammar.methods) }

    private mutating func serialize(_ draft: Draft) -> [UInt8] {
        draft.json(rotation: random.percent(85) ? 0 : random.below(4)).serialized()
    }

    /// Puts the content in the params: as an honest attachment or as base64 `data`.
    private mutating func attachContent(_ draft: inout Draft, allowAttachment: Bool = true) -> [UInt8] {
        guard let content = draft.content else { return [] }
        if allowAttachment && random.percent(60) {
            draft.paramsObject["dataLength"] = .number(JSONNumber(content.count))
            return content
        }
        draft.paramsObject["data"] = .string(Base64.encode(content))
        return []
    }

    private func unit(_ line: [UInt8], _ raw: [UInt8] = [], _ label: String, valid: Bool = false) -> FuzzUnit {
        FuzzUnit(bytes: line + [0x0A] + raw, label: label, validLine: valid ? line : nil)
    }

    // MARK: - Kinds

    private mutating func validCall(notification: Bool) -> FuzzUnit {
        let grammar = anyGrammar()
        var request = draft(grammar, notification: notification)
        let raw = attachContent(&request)
        let line = serialize(request)
        let how = raw.isEmpty ? "" : " with a \(raw.count)-byte attachment"
        return unit(
            line, raw, "valid \(notification ? "notification" : "call") \(grammar.name)\(how)", valid: !notification)
    }

    private mutating func mutatedCall() -> FuzzUnit {
        let grammar = anyGrammar()
        var request = draft(grammar)
        for _ in 0..<random.within(1...3) {
            if random.percent(75) { mutateParam(&request) } else { mutateMember(&request) }
        }
        let raw = attachContent(&request)
        return unit(serialize(request), raw, "mutated \(grammar.name): " + request.notes.joined(separator: "; "))
    }

    private mutating func otherMethodsParams() -> FuzzUnit {
        let target = anyGrammar()
        var request = draft(anyGrammar())
        let source = request.methodName
        request.method = .string(target.name)
        let raw = attachContent(&request, allowAttachment: target.takesAttachment)
        return unit(serialize(request), raw, "\(target.name) with the params of \(source)")
    }

    private mutating func unknownMethod() -> FuzzUnit {
        let grammar = anyGrammar()
        var request = draft(grammar)
        let name = random.pick(Mutations.unknownMethods(grammar.name))
        request.method = name
        var raw = attachContent(&request)
        if raw.isEmpty && random.percent(20) {
            raw = random.bytes(random.below(32))
            request.paramsObject["dataLength"] = .number(JSONNumber(raw.count))
        }
        return unit(serialize(request), raw, "unknown method \(name) with \(raw.count) attachment bytes")
    }

    private mutating func oddId() -> FuzzUnit {
        let grammar = anyGrammar()
        var request = draft(grammar)
        let ids: [JSONValue] = [
            Mutations.literal("1.50"), Mutations.literal("-0"), Mutations.literal("1e2"), Mutations.literal("1E+2"),
            Mutations.literal("12345678901234567890123"), Mutations.literal("0.1"), "", .null,
            .string(String(repeating: "é", count: 100)), "\u{0}", .string("\(tag)\u{2028}"),
            Mutations.literal("-9223372036854775809"), .object(JSONObject([("a", 1)])), .array([1]), true, false,
            .array([]), .object(JSONObject()),
        ]
        let id = random.pick(ids)
        request.id = id
        let raw = attachContent(&request)
        return unit(serialize(request), raw, "\(grammar.name) with id \(id)")
    }

    // MARK: - Mutations of a draft

    private static let paramKeys = [
        "tenant", "artifactId", "uploadId", "offset", "length", "sha256", "providerId", "mimeType", "limit", "cursor",
        "binary", "sizeBytes", "maxBytes", "maxArtifacts", "anchor", "artifacts", "dryRun", "values", "clear",
        "expectedRevision", "xxh128", "data",
    ]

    private mutating func mutateParam(_ request: inout Draft) {
        var params = request.paramsObject
        let key = random.pick(params.keys + Self.paramKeys)
        let value: JSONValue?
        switch random.below(11) {
        case 0: value = nil
        case 1: value = .null
        case 2: value = random.pick(Mutations.wrongTypes)
        case 3: value = random.pick(Mutations.oddNumbers)
        case 4: value = random.pick(Mutations.oddUUIDs)
        case 5: value = random.pick(Mutations.oddDigests)
        case 6: value = random.pick(Mutations.oddNames)
        case 7: value = random.pick(Mutations.oddStrings)
        case 8:
            let extra = "x-\(random.below(100))"
            params[extra] = random.pick(Mutations.wrongTypes)
            request.paramsObject = params
            request.notes.append("extra param \(extra)")
            return
        case 9: value = nested(depth: random.within(2...70))
        default:
            // A long array: over the 1000 entries of artifacts.import, or just long.
            let entry = params["artifacts"]?.arrayValue?.first ?? .number(JSONNumber(random.below(10)))
            value = .array(Array(repeating: entry, count: random.pick([1001, 1000, 50])))
        }
        params[key] = value
        request.paramsObject = params
        request.notes.append("\(key) → \(value.map { $0.serialized().escapedForMessage(limit: 60) } ?? "removed")")
    }

    private mutating func mutateMember(_ request: inout Draft) {
        switch random.below(9) {
        case 0:
            request.jsonrpc = nil
            request.notes.append("no jsonrpc")
        case 1:
            let value = random.pick(["1.0", Mutations.literal("2.0"), "2.0 ", .null, "2", ""] as [JSONValue])
            request.jsonrpc = value
            request.notes.append("jsonrpc \(value)")
        case 2:
            let value = random.pick([7, .null, .array(["x"]), .object(JSONObject()), true] as [JSONValue])
            request.method = value
            request.notes.append("method \(value)")
        case 3:
            request.method = nil
            request.notes.append("no method")
        case 4:
            let value = random.pick([.array([]), "x", .null, 5, true, .array([.object(JSONObject())])] as [JSONValue])
            request.params = value
            request.notes.append("params \(value)")
        case 5:
            request.params = nil
            request.notes.append("no params")
        case 6:
            request.extras.append(("x-member", random.pick(Mutations.wrongTypes)))
            request.notes.append("extra member")
        case 7:
            let value = random.pick([.object(JSONObject([("n", 1)])), .array([1]), true, false] as [JSONValue])
            request.id = value
            request.notes.append("id \(value)")
        default:
            request.id = nil
            request.notes.append("no id")
        }
    }

    /// Arrays and objects nested `depth` deep.
    private mutating func nested(depth: Int) -> JSONValue {
        var value: JSONValue = .number(JSONNumber(depth))
        let objects = random.percent(50)
        for _ in 0..<max(depth - 1, 0) {
            value = objects ? .object(JSONObject([("a", value)])) : .array([value])
        }
        return value
    }

    // MARK: - Attachments

    private mutating func attachmentTrick() -> FuzzUnit {
        let takers = RequestGrammar.methods.filter(\.takesAttachment)
        let others = RequestGrammar.methods.filter { !$0.takesAttachment }
        let grammar = random.percent(70) ? random.pick(takers) : random.pick(others)
        var request = draft(grammar)
        let content = request.content ?? random.bytes(random.below(64))
        request.content = nil
        let limit = world.limits.attachmentLimit
        func announce(_ value: JSONValue, _ request: inout Draft) { request.paramsObject["dataLength"] = value }
        switch random.below(11) {
        case 0:
            let missing = random.within(1...64)
            announce(.number(JSONNumber(content.count + missing)), &request)
            return unit(serialize(request), content, "\(grammar.name): dataLength \(missing) over the bytes sent")
        case 1:
            announce(.number(JSONNumber(content.count)), &request)
            let extra: [UInt8] =
                random.percent(50)
                ? Array(#"{"jsonrpc":"2.0","id":"smuggled","method":"\#(grammar.name)"}"#.utf8) + [0x0A]
                : random.bytes(random.within(1...40))
            return unit(
                serialize(request), content + extra, "\(grammar.name): \(extra.count) bytes more than dataLength")
        case 2:
            let value = random.pick(
                [
                    .number(JSONNumber(-1)), "3", Mutations.literal("1.5"), true, .null, Mutations.literal("1e2"),
                    Mutations.literal("9223372036854775808"), .array([]), .object(JSONObject()),
                    Mutations.literal("-9223372036854775808"), Mutations.literal("2.0"),
                ] as [JSONValue])
            announce(value, &request)
            return unit(serialize(request), content, "\(grammar.name): unusable dataLength \(value)")
        case 3:
            let value: JSONValue = random.pick(
                [
                    .number(JSONNumber(limit + 1)), .number(JSONNumber(limit + 1 + random.below(4096))),
                    .number(JSONNumber(Int64(1) << 40)), .number(JSONNumber(Int64.max)),
                ] as [JSONValue])
            announce(value, &request)
            return unit(serialize(request), content, "\(grammar.name): dataLength \(value) over every limit")
        case 4 where budget.bulkBytes > limit:
            let length = random.percent(50) ? limit : min(world.limits.maxChunkBytes + 1 + random.below(4096), limit)
            budget.bulkBytes -= length
            announce(.number(JSONNumber(length)), &request)
            let fill = UInt8(truncatingIfNeeded: random.next())
            return unit(
                serialize(request), [UInt8](repeating: fill, count: length),
                "\(grammar.name): a \(length)-byte attachment")
        case 5:
            let plain = random.pick(others)
            var other = draft(plain)
            other.paramsObject["dataLength"] = .number(JSONNumber(content.count))
            return unit(serialize(other), content, "\(plain.name) (takes no attachment) with \(content.count) bytes")
        case 6:
            announce(.number(JSONNumber(content.count)), &request)
            request.paramsObject["data"] = .string(Base64.encode(content))
            return unit(serialize(request), content, "\(grammar.name): data and dataLength both")
        case 7:
            let text = random.pick(["QR==", "QQ", "Q Q==", "QQ=\\n", "-_8=", "QQ==QQ==", "====", "a", "QQ==\u{0}"])
            request.paramsObject["data"] = .string(text)
            return unit(serialize(request), [], "\(grammar.name): bad base64 data \(text)")
        case 8:
            // A refused request still announces bytes: they are dropped.
            if random.percent(50) { request.jsonrpc = nil } else { request.id = .array([]) }
            announce(random.percent(80) ? .number(JSONNumber(content.count)) : .number(JSONNumber(-5)), &request)
            let line = serialize(request)
            return unit(line, content, "an invalid request announcing \(content.count) bytes")
        case 9:
            request.id = nil
            announce(.number(JSONNumber(content.count)), &request)
            return unit(serialize(request), content, "\(grammar.name) notification with \(content.count) bytes")
        default:
            announce(0, &request)
            return unit(serialize(request), [], "\(grammar.name): dataLength 0")
        }
    }

    // MARK: - Batches

    private mutating func batch() -> FuzzUnit {
        let judge = WireModel(limits: world.limits)
        var entries: [JSONValue] = []
        var label: String
        switch random.below(12) {
        case 0:
            return unit(random.pick([Array("[]".utf8), Array("[ ]".utf8), Array("[\t]".utf8)]), [], "an empty batch")
        case 1:
            let line = random.pick(["[[]]", "[1,2,3]", "[null]", "[[{}]]", "[\"x\"]", "[{}]"])
            return unit(Array(line.utf8), [], "batch \(line)")
        case 2:
            for _ in 0..<random.within(1...6) {
                let grammar = anyGrammar()
                var entry = draft(grammar, notification: true)
                _ = attachContent(&entry, allowAttachment: false)
                entries.append(entry.json(rotation: 0))
            }
            label = "a batch of \(entries.count) notifications"
        case 3 where world.limits.attachmentLimit <= 64 << 10 || budget.bulkBytes > world.limits.attachmentLimit:
            // Entries announcing, together, exactly every limit or one byte more.
            let limit = world.limits.attachmentLimit
            let total = random.percent(50) ? limit : limit + 1
            if limit > 64 << 10 { budget.bulkBytes -= total }
            let first = random.below(total + 1)
            for length in [first, total - first] {
                var entry = draft(anyGrammar(), notification: random.percent(30))
                _ = attachContent(&entry, allowAttachment: false)
                entry.paramsObject["dataLength"] = .number(JSONNumber(length))
                entries.append(entry.json(rotation: 0))
            }
            label = "a batch announcing \(total) bytes in all (every limit: \(limit))"
        default:
            let lengths = random.percent(10)
            for _ in 0..<random.within(1...12) {
                let grammar = anyGrammar()
                var entry = draft(grammar, notification: random.percent(20))
                switch random.below(10) {
                case 0, 1: mutateParam(&entry)
                case 2: mutateMember(&entry)
                case 3: entries.append(random.pick([1, "x", .null, .array([]), .array([1]), true] as [JSONValue]))
                case 4:
                    entry.paramsObject["dataLength"] =
                        lengths
                        ? random.pick([
                            .number(JSONNumber(-1)), "2", .number(JSONNumber(world.limits.attachmentLimit + 1)),
                        ])
                        : .number(JSONNumber(random.below(48)))
                default: break
                }
                _ = attachContent(&entry, allowAttachment: false)
                entries.append(entry.json(rotation: 0))
            }
            label = "a batch of \(entries.count) mixed entries"
        }
        let line = JSONValue.array(entries).serialized()
        var raw: [UInt8] = []
        if case .bytes(let length) = judge.announcement(afterLine: line) {
            let sent = random.percent(85) ? length : max(0, length + random.within(-8...8))
            let fill = UInt8(truncatingIfNeeded: random.next())
            raw = sent > 64 << 10 ? [UInt8](repeating: fill, count: sent) : random.bytes(sent)
            label += ", \(sent) raw bytes after it for \(length) announced"
        }
        return unit(line, raw, label)
    }

    // MARK: - Damaged bytes and garbage

    private mutating func damagedLine() -> FuzzUnit {
        let grammar = anyGrammar()
        var request = draft(grammar)
        if random.percent(30) { mutateParam(&request) }
        _ = attachContent(&request, allowAttachment: false)
        var line = serialize(request)
        let position = random.below(line.count)
        let quotes = line.indices.filter { line[$0] == UInt8(ascii: "\"") }
        let inString = quotes.isEmpty ? position : quotes[random.below(quotes.count)] + 1
        let label: String
        switch random.below(11) {
        case 0:
            line = Array(line[..<position])
            label = "\(grammar.name) cut at byte \(position)"
        case 1:
            let cut = Array(line[..<position])
            return FuzzUnit(bytes: cut, label: "\(grammar.name) cut at byte \(position), no newline", validLine: nil)
        case 2:
            let bad = random.pick(Mutations.invalidUTF8)
            line.insert(contentsOf: bad, at: inString)
            label = "\(grammar.name) with invalid UTF-8 \(bad) in a string"
        case 3:
            let bad = random.pick(Mutations.invalidUTF8)
            line.insert(contentsOf: bad, at: position)
            label = "\(grammar.name) with invalid UTF-8 \(bad) at byte \(position)"
        case 4:
            let bad = random.pick(Mutations.brokenEscapes)
            line.insert(contentsOf: bad, at: inString)
            label = "\(grammar.name) with \(bad.escapedForMessage()) in a string"
        case 5:
            let byte = UInt8(truncatingIfNeeded: random.next())
            line[position] = byte == 0x0A ? 0x0B : byte
            label = "\(grammar.name) with byte \(position) set to \(byte)"
        case 6:
            let duplicate = random.pick([
                #""id":"dup","#, #""method":"no.such","#, #""jsonrpc":"1.0","#, #""params":{"tenant":1},"#,
                #""params":[],"#, #""id":{"a":1},"#, #""method":"\#(random.pick(Methods.names))","#,
            ])
            if random.percent(50) {
                line.insert(contentsOf: Array(duplicate.utf8), at: 1)
            } else {
                line.removeLast()
                line += [UInt8(ascii: ",")] + Array(duplicate.utf8.dropLast()) + [UInt8(ascii: "}")]
            }
            label = "\(grammar.name) with the duplicate key \(duplicate)"
        case 7:
            let tail = random.pick([",}", "}}", " x", ",", "]", "\u{0}"])
            line.removeLast()
            line += Array(tail.utf8)
            label = "\(grammar.name) ending in \(tail)"
        case 8:
            line += [0x0D]
            label = "\(grammar.name) with CRLF"
        case 9:
            line = Array(" \t ".utf8) + line + Array(" \t\r".utf8)
            label = "\(grammar.name) with whitespace around it"
        default:
            line.insert(0, at: position)
            label = "\(grammar.name) with a NUL at byte \(position)"
        }
        return unit(line, [], label)
    }

    private mutating func garbage() -> FuzzUnit {
        switch random.below(10) {
        case 0:
            let line = random.pick(["", " ", "\t", "\r", " \t\r ", "\r\r"])
            return unit(Array(line.utf8), [], "a blank line")
        case 1:
            let bytes = random.bytes(random.within(1...300))
            return FuzzUnit(bytes: bytes + [0x0A], label: "\(bytes.count) random bytes", validLine: nil)
        case 2:
            let line = random.pick([
                "42", "\"x\"", "null", "true", "1e999", "-", "{}", #"{"jsonrpc":"2.0"}"#, "{", "}", "[", "]", "\"",
                #"{"jsonrpc":"2.0","id":1}"#, #"{"jsonrpc":"2.0","method":"x.y"}"#, "0", "-0", "[{}]x",
            ])
            return unit(Array(line.utf8), [], "the line \(line)")
        case 3, 4:
            let depth = random.pick([63, 64, 65, 66, 200, 5000])
            let objects = random.percent(50)
            let open = objects ? Array(#"{"a":"#.utf8) : [UInt8(ascii: "[")]
            let close = objects ? [UInt8(ascii: "}")] : [UInt8(ascii: "]")]
            var line: [UInt8] = []
            for _ in 0..<depth { line += open }
            line += Array("1".utf8)
            for _ in 0..<depth { line += close }
            return unit(line, [], "\(objects ? "objects" : "arrays") nested \(depth) deep")
        case 5:
            var request = draft(anyGrammar())
            let depth = random.within(58...68)
            request.paramsObject["deep"] = nested(depth: depth)
            _ = attachContent(&request, allowAttachment: false)
            return unit(serialize(request), [], "\(request.methodName) with a param nested \(depth) deep")
        case 6:
            let count = random.within(1000...100_000)
            return unit([UInt8](repeating: UInt8(ascii: "["), count: count), [], "\(count) unclosed brackets")
        case 7:
            let count = random.within(1...50)
            return FuzzUnit(bytes: [UInt8](repeating: 0x0A, count: count), label: "\(count) newlines", validLine: nil)
        case 8:
            var request = draft(anyGrammar())
            _ = attachContent(&request, allowAttachment: false)
            return unit([0xEF, 0xBB, 0xBF] + serialize(request), [], "a request after a byte-order mark")
        default:
            var request = draft(anyGrammar())
            _ = attachContent(&request, allowAttachment: false)
            let spaces = random.below(min(world.limits.maxRequestBytes, 128 << 10))
            return unit(
                [UInt8](repeating: 0x20, count: spaces) + serialize(request), [], "a request after \(spaces) spaces")
        }
    }

    /// A line at, just under, or over `maxRequestBytes`.
    private mutating func overLongLine() -> FuzzUnit {
        let max = world.limits.maxRequestBytes
        let length = random.pick([max - 1, max, max + 1, max + 1 + random.below(4096), 2 * max, max / 2])
        guard length <= 1 << 20 || budget.hugeLines > 0 else { return garbage() }
        if length > 1 << 20 { budget.hugeLines -= 1 }
        var request = draft(RequestGrammar.grammar(named: Methods.systemHello.name)!)
        request.paramsObject["pad"] = ""
        let base = serialize(request)
        let marker = Array(#""pad":"""#.utf8)
        let padding = Swift.max(0, length - base.count)
        var line: [UInt8]
        if let at = base.firstRange(of: marker) {
            line = Array(base[..<at.upperBound.advanced(by: -1)])
            line += [UInt8](repeating: UInt8(ascii: "a"), count: padding)
            line += base[(at.upperBound - 1)...]
        } else {
            line = base + [UInt8](repeating: 0x20, count: padding)
        }
        let newline = random.percent(90)
        return FuzzUnit(
            bytes: line + (newline ? [0x0A] : []), label: "a line of \(line.count) bytes (maxRequestBytes \(max))",
            validLine: line.count <= max && newline ? line : nil)
    }
}

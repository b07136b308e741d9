/// A value in an IMAP response: the generic shape every response is parsed into first.
public enum IMAPValue: Sendable, Hashable {
    /// An atom such as `OK`, `\Seen`, `BODY[]` or `RFC822.SIZE`.
    case atom(String)
    /// A number (`number` or `nz-number`, up to 63 bits).
    case number(UInt64)
    /// A quoted string or a literal, as raw bytes (literals are binary-safe).
    case string([UInt8])
    /// `NIL`.
    case null
    /// A parenthesised list.
    case list([IMAPValue])

    /// The atom's text or the string decoded as UTF-8 (invalid bytes replaced), else nil.
    public var text: String? {
        switch self {
        case .atom(let a): a
        case .string(let s): String(decoding: s, as: UTF8.self)
        case .number(let n): String(n)
        default: nil
        }
    }

    /// The number, else nil.
    public var number: UInt64? {
        if case .number(let n) = self { return n }
        return nil
    }

    /// The list's elements, else nil.
    public var list: [IMAPValue]? {
        if case .list(let l) = self { return l }
        return nil
    }

    /// The raw bytes of a string or literal, else nil.
    public var bytes: [UInt8]? {
        if case .string(let s) = self { return s }
        return nil
    }
}

/// `OK`, `NO`, `BAD`, `PREAUTH` or `BYE`.
public enum IMAPStatus: String, Sendable, Hashable {
    case ok = "OK", no = "NO", bad = "BAD", preauth = "PREAUTH", bye = "BYE"
}

/// A bracketed response code such as `[UIDVALIDITY 3857529045]` or `[TRYCREATE]`.
public struct IMAPResponseCode: Sendable, Hashable {
    /// The code's name, upper-cased: `UIDVALIDITY`, `TRYCREATE`, `AUTHENTICATIONFAILED` ...
    public var name: String
    /// Everything after the name, up to the closing bracket (may be empty).
    public var argument: String

    /// The argument as a number (`UIDVALIDITY`, `UIDNEXT`, `UNSEEN`), else nil.
    public var number: UInt64? { UInt64(argument) }
}

/// The status part of `OK`/`NO`/`BAD`/`BYE`/`PREAUTH` responses.
public struct IMAPStatusResponse: Sendable, Hashable {
    public var status: IMAPStatus
    public var code: IMAPResponseCode?
    /// The human-readable text after the code.
    public var text: String

    /// `[CODE arg] text`, as the server wrote it.
    public var displayText: String {
        guard let code else { return text }
        let bracket = code.argument.isEmpty ? "[\(code.name)]" : "[\(code.name) \(code.argument)]"
        return text.isEmpty ? bracket : "\(bracket) \(text)"
    }
}

/// One `* n FETCH (...)` response's data items, by upper-cased name (`UID`, `FLAGS`,
/// `RFC822.SIZE`, `BODY[]`, ...).
public struct IMAPFetchResponse: Sendable, Hashable {
    /// The message sequence number.
    public var sequenceNumber: UInt32
    /// Each data item's value.
    public var items: [String: IMAPValue]

    /// The `UID` item.
    public var uid: UInt32? { items["UID"]?.number.flatMap { UInt32(exactly: $0) } }
    /// The `RFC822.SIZE` item.
    public var size: Int? { items["RFC822.SIZE"]?.number.flatMap { Int(exactly: $0) } }
    /// The `FLAGS` item.
    public var flags: [String]? { items["FLAGS"]?.list?.compactMap(\.text) }
    /// The bytes of a body section, e.g. `body("")` for `BODY[]` (also what `BODY.PEEK[]` returns).
    public func body(section: String = "") -> [UInt8]? {
        items["BODY[\(section.uppercased())]"]?.bytes
    }
}

/// An untagged (`*`) response.
public enum IMAPUntaggedResponse: Sendable, Hashable {
    /// `* OK/NO/BAD/PREAUTH/BYE [code] text`.
    case status(IMAPStatusResponse)
    /// `* CAPABILITY ...` (names upper-cased).
    case capability([String])
    /// `* n EXISTS`.
    case exists(UInt32)
    /// `* n RECENT`.
    case recent(UInt32)
    /// `* n EXPUNGE`.
    case expunge(UInt32)
    /// `* FLAGS (...)`.
    case flags([String])
    /// `* SEARCH n n ...`.
    case search([UInt32])
    /// `* n FETCH (...)`.
    case fetch(IMAPFetchResponse)
    /// `* LIST (attributes) "delimiter" name` (name still in modified UTF-7).
    case list(attributes: [String], delimiter: String?, name: [UInt8])
    /// `* STATUS name (ITEM n ...)`.
    case mailboxStatus(name: [UInt8], items: [String: UInt64])
    /// Anything else: the keyword (upper-cased) and the parsed values after it.
    case other(keyword: String, values: [IMAPValue])
}

/// One complete server response.
public enum IMAPResponse: Sendable, Hashable {
    /// `tag OK/NO/BAD [code] text`.
    case tagged(tag: String, IMAPStatusResponse)
    case untagged(IMAPUntaggedResponse)
    /// `+ text`: the server waits for more from the client (IDLE, literals).
    case continuation(String)
}

/// Why a response could not be parsed.
public struct IMAPParseError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What was wrong.
    public var reason: String
    /// Byte offset in the response where it went wrong.
    public var offset: Int
    public var description: String { "malformed IMAP response at byte \(offset): \(reason)" }
}

/// Splits the byte stream from the server into complete responses: a line ending in CRLF,
/// extended by each `{n}` literal announced at the end of a line.
public struct IMAPResponseFramer: Sendable {
    private var buffer: [UInt8] = []
    private var scanned = 0
    private var literalRemaining = 0
    /// Where the current line (after the last literal) starts.
    private var lineStart = 0
    /// The largest literal accepted; a bigger one is a protocol error (protects memory).
    public let maximumLiteral: Int
    /// The longest line accepted outside literals.
    public let maximumLine: Int

    public init(maximumLiteral: Int = 64 << 20, maximumLine: Int = 1 << 20) {
        self.maximumLiteral = maximumLiteral
        self.maximumLine = maximumLine
    }

    /// Bytes received but not yet part of a complete response.
    public var bufferedCount: Int { buffer.count }

    /// Adds received bytes.
    public mutating func append(_ bytes: [UInt8]) {
        buffer.append(contentsOf: bytes)
    }

    /// Removes and returns the next complete response, or nil if more bytes are needed.
    public mutating func next() throws(IMAPParseError) -> [UInt8]? {
        while true {
            if literalRemaining > 0 {
                let available = buffer.count - scanned
                if available < literalRemaining {
                    literalRemaining -= available
                    scanned = buffer.count
                    return nil
                }
                scanned += literalRemaining
                literalRemaining = 0
                lineStart = scanned
            }
            // find CRLF from `scanned`
            var i = scanned
            var found = -1
            while i + 1 < buffer.count {
                if buffer[i] == 13 && buffer[i + 1] == 10 { found = i; break }
                i += 1
            }
            if found < 0 {
                scanned = max(lineStart, buffer.count - 1)
                if buffer.count - lineStart > maximumLine {
                    throw IMAPParseError(reason: "line longer than \(maximumLine) bytes", offset: lineStart)
                }
                return nil
            }
            if let size = try literalSize(endingAt: found, lineStart: lineStart) {
                guard size <= maximumLiteral else {
                    throw IMAPParseError(reason: "literal of \(size) bytes exceeds the limit of \(maximumLiteral)", offset: found)
                }
                scanned = found + 2
                literalRemaining = size
                if size == 0 { lineStart = scanned }
                continue
            }
            let end = found + 2
            let response = Array(buffer[0..<end])
            buffer.removeFirst(end)
            scanned = 0
            lineStart = 0
            return response
        }
    }

    /// `{123}` / `{123+}` / `~{123}` just before CRLF -> 123.
    private func literalSize(endingAt crlf: Int, lineStart: Int) throws(IMAPParseError) -> Int? {
        guard crlf > lineStart, buffer[crlf - 1] == UInt8(ascii: "}") else { return nil }
        var j = crlf - 2
        if j >= lineStart, buffer[j] == UInt8(ascii: "+") { j -= 1 }
        var digits = 0
        var value = 0
        while j >= lineStart, buffer[j] >= 48, buffer[j] <= 57 {
            digits += 1
            if digits > 12 { throw IMAPParseError(reason: "literal size has too many digits", offset: j) }
            j -= 1
        }
        guard digits > 0, j >= lineStart, buffer[j] == UInt8(ascii: "{") else { return nil }
        for k in (j + 1)..<(j + 1 + digits) { value = value * 10 + Int(buffer[k] - 48) }
        return value
    }
}

/// Parses one complete response (as framed by ``IMAPResponseFramer``) into an ``IMAPResponse``.
///
/// Handles quoted strings with escapes, `{n}` literals anywhere a string may stand, `NIL`,
/// nested lists, `BODY[section]<origin>` item names, response codes, and `NO`/`BAD` with text.
/// Never traps on malformed input: it throws ``IMAPParseError``.
public enum IMAPResponseParser {
    /// Nesting deeper than this is rejected.
    static let maximumDepth = 64

    public static func parse(_ bytes: [UInt8]) throws(IMAPParseError) -> IMAPResponse {
        var s = Scanner(bytes: bytes)
        guard !s.atEnd else { throw IMAPParseError(reason: "empty response", offset: 0) }
        if s.peek == UInt8(ascii: "+") {
            s.index += 1
            s.skipSpaces()
            return .continuation(s.restOfLine())
        }
        let tag = s.readUntilSpace()
        guard !tag.isEmpty else { throw IMAPParseError(reason: "missing tag", offset: 0) }
        try s.expectSpace()
        if tag == "*" {
            return .untagged(try parseUntagged(&s))
        }
        let keyword = s.readUntilSpace().uppercased()
        guard let status = IMAPStatus(rawValue: keyword), status == .ok || status == .no || status == .bad else {
            throw IMAPParseError(reason: "tagged response with status '\(keyword)'", offset: s.index)
        }
        return .tagged(tag: tag, try parseStatusRest(status, &s))
    }

    private static func parseStatusRest(_ status: IMAPStatus, _ s: inout Scanner) throws(IMAPParseError) -> IMAPStatusResponse {
        s.skipSpaces()
        var code: IMAPResponseCode?
        if s.peek == UInt8(ascii: "[") {
            s.index += 1
            let start = s.index
            var depth = 0
            while let c = s.peek, !(c == UInt8(ascii: "]") && depth == 0), c != 13 {
                if c == UInt8(ascii: "(") { depth += 1 }
                if c == UInt8(ascii: ")") { depth = max(0, depth - 1) }
                s.index += 1
            }
            guard s.peek == UInt8(ascii: "]") else { throw IMAPParseError(reason: "unterminated response code", offset: start) }
            let inside = String(decoding: s.bytes[start..<s.index], as: UTF8.self)
            s.index += 1
            let parts = inside.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
            code = IMAPResponseCode(name: String(parts.first ?? "").uppercased(),
                                    argument: parts.count > 1 ? String(parts[1]) : "")
            s.skipSpaces()
        }
        return IMAPStatusResponse(status: status, code: code, text: s.restOfLine())
    }

    private static func parseUntagged(_ s: inout Scanner) throws(IMAPParseError) -> IMAPUntaggedResponse {
        let first = s.readUntilSpace()
        if let number = UInt32(first) {
            try s.expectSpace()
            let keyword = s.readAtomText().uppercased()
            switch keyword {
            case "EXISTS": return .exists(number)
            case "RECENT": return .recent(number)
            case "EXPUNGE": return .expunge(number)
            case "FETCH":
                try s.expectSpace()
                let value = try parseValue(&s, depth: 0)
                guard case .list(let elements) = value else {
                    throw IMAPParseError(reason: "FETCH data is not a list", offset: s.index)
                }
                guard elements.count % 2 == 0 else {
                    throw IMAPParseError(reason: "FETCH data has an item without a value", offset: s.index)
                }
                var items: [String: IMAPValue] = [:]
                var i = 0
                while i < elements.count {
                    guard let name = elements[i].text else {
                        throw IMAPParseError(reason: "FETCH item name is not an atom", offset: s.index)
                    }
                    items[normalizeItemName(name)] = elements[i + 1]
                    i += 2
                }
                return .fetch(IMAPFetchResponse(sequenceNumber: number, items: items))
            default:
                let values = try parseValues(&s)
                return .other(keyword: "\(number) \(keyword)", values: values)
            }
        }
        let keyword = first.uppercased()
        switch keyword {
        case "OK", "NO", "BAD", "PREAUTH", "BYE":
            return .status(try parseStatusRest(IMAPStatus(rawValue: keyword)!, &s))
        case "CAPABILITY":
            s.skipSpaces()
            return .capability(s.restOfLine().split(separator: " ").map { $0.uppercased() })
        case "FLAGS":
            s.skipSpaces()
            let value = try parseValue(&s, depth: 0)
            return .flags(value.list?.compactMap(\.text) ?? [])
        case "SEARCH":
            var numbers: [UInt32] = []
            while true {
                s.skipSpaces()
                guard let c = s.peek, c != 13 else { break }
                if c == UInt8(ascii: "(") {
                    _ = try parseValue(&s, depth: 0)  // CONDSTORE (MODSEQ n)
                    continue
                }
                let word = s.readAtomText()
                guard let n = UInt32(word) else {
                    throw IMAPParseError(reason: "SEARCH result '\(word)' is not a number", offset: s.index)
                }
                numbers.append(n)
            }
            return .search(numbers)
        case "LIST", "LSUB":
            try s.expectSpace()
            let attributes = try parseValue(&s, depth: 0).list?.compactMap(\.text) ?? []
            try s.expectSpace()
            let delimiterValue = try parseValue(&s, depth: 0)
            try s.expectSpace()
            let nameValue = try parseAString(&s)
            return .list(attributes: attributes, delimiter: delimiterValue.text, name: nameValue)
        case "STATUS":
            try s.expectSpace()
            let name = try parseAString(&s)
            s.skipSpaces()
            let list = try parseValue(&s, depth: 0).list ?? []
            var items: [String: UInt64] = [:]
            var i = 0
            while i + 1 < list.count {
                if let key = list[i].text?.uppercased(), let value = list[i + 1].number { items[key] = value }
                i += 2
            }
            return .mailboxStatus(name: name, items: items)
        default:
            return .other(keyword: keyword, values: try parseValues(&s))
        }
    }

    /// `BODY.PEEK[]` is answered as `BODY[]`; `BODY[header.fields (from)]` is upper-cased.
    private static func normalizeItemName(_ name: String) -> String {
        var upper = name.uppercased()
        if upper.hasPrefix("BODY.PEEK[") { upper = "BODY[" + upper.dropFirst("BODY.PEEK[".count) }
        return upper
    }

    private static func parseValues(_ s: inout Scanner) throws(IMAPParseError) -> [IMAPValue] {
        var values: [IMAPValue] = []
        while true {
            s.skipSpaces()
            guard let c = s.peek, c != 13 else { return values }
            values.append(try parseValue(&s, depth: 0))
        }
    }

    private static func parseAString(_ s: inout Scanner) throws(IMAPParseError) -> [UInt8] {
        switch try parseValue(&s, depth: 0) {
        case .string(let bytes): return bytes
        case .atom(let atom): return Array(atom.utf8)
        case .number(let n): return Array(String(n).utf8)
        default: throw IMAPParseError(reason: "expected a string", offset: s.index)
        }
    }

    static func parseValue(_ s: inout Scanner, depth: Int) throws(IMAPParseError) -> IMAPValue {
        guard depth < maximumDepth else { throw IMAPParseError(reason: "lists nested too deeply", offset: s.index) }
        guard let c = s.peek else { throw IMAPParseError(reason: "unexpected end of response", offset: s.index) }
        switch c {
        case UInt8(ascii: "("):
            s.index += 1
            var elements: [IMAPValue] = []
            while true {
                s.skipSpaces()
                guard let d = s.peek else { throw IMAPParseError(reason: "unterminated list", offset: s.index) }
                if d == UInt8(ascii: ")") { s.index += 1; return .list(elements) }
                if d == 13 { throw IMAPParseError(reason: "unterminated list", offset: s.index) }
                elements.append(try parseValue(&s, depth: depth + 1))
            }
        case UInt8(ascii: "\""):
            s.index += 1
            var out: [UInt8] = []
            while true {
                guard let d = s.peek, d != 13, d != 10 else {
                    throw IMAPParseError(reason: "unterminated quoted string", offset: s.index)
                }
                s.index += 1
                if d == UInt8(ascii: "\"") { return .string(out) }
                if d == UInt8(ascii: "\\") {
                    guard let e = s.peek, e == UInt8(ascii: "\\") || e == UInt8(ascii: "\"") else {
                        throw IMAPParseError(reason: "invalid escape in quoted string", offset: s.index)
                    }
                    s.index += 1
                    out.append(e)
                } else {
                    out.append(d)
                }
            }
        case UInt8(ascii: "{"), UInt8(ascii: "~"):
            if c == UInt8(ascii: "~") { s.index += 1 }
            guard s.peek == UInt8(ascii: "{") else { throw IMAPParseError(reason: "expected '{' of a literal", offset: s.index) }
            s.index += 1
            var size = 0
            var digits = 0
            while let d = s.peek, d >= 48, d <= 57 {
                size = size * 10 + Int(d - 48)
                digits += 1
                s.index += 1
                if digits > 12 { throw IMAPParseError(reason: "literal size too large", offset: s.index) }
            }
            if s.peek == UInt8(ascii: "+") { s.index += 1 }
            guard digits > 0, s.peek == UInt8(ascii: "}") else { throw IMAPParseError(reason: "malformed literal size", offset: s.index) }
            s.index += 1
            guard s.peek == 13, s.index + 1 < s.bytes.count, s.bytes[s.index + 1] == 10 else {
                throw IMAPParseError(reason: "literal size not followed by CRLF", offset: s.index)
            }
            s.index += 2
            guard s.bytes.count - s.index >= size else {
                throw IMAPParseError(reason: "literal shorter than its announced \(size) bytes", offset: s.index)
            }
            let data = Array(s.bytes[s.index..<(s.index + size)])
            s.index += size
            return .string(data)
        case UInt8(ascii: ")"), 13, 10:
            throw IMAPParseError(reason: "unexpected '\(Character(Unicode.Scalar(c)))'", offset: s.index)
        default:
            let atom = s.readAtomText(allowSection: true)
            guard !atom.isEmpty else { throw IMAPParseError(reason: "unexpected byte \(c)", offset: s.index) }
            if atom.uppercased() == "NIL" { return .null }
            if atom.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), atom.utf8.count <= 19, let n = UInt64(atom) {
                return .number(n)
            }
            return .atom(atom)
        }
    }

    struct Scanner {
        let bytes: [UInt8]
        var index = 0
        var atEnd: Bool { index >= bytes.count }
        var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

        mutating func skipSpaces() {
            while peek == UInt8(ascii: " ") { index += 1 }
        }

        mutating func expectSpace() throws(IMAPParseError) {
            guard peek == UInt8(ascii: " ") else { throw IMAPParseError(reason: "expected a space", offset: index) }
            index += 1
        }

        /// Up to the next space or CRLF.
        mutating func readUntilSpace() -> String {
            let start = index
            while let c = peek, c != UInt8(ascii: " "), c != 13, c != 10 { index += 1 }
            return String(decoding: bytes[start..<index], as: UTF8.self)
        }

        /// An atom; with `allowSection`, a `[...]` part (which may hold spaces and parentheses)
        /// and a `<...>` partial suffix are part of it, as in `BODY[HEADER.FIELDS (FROM)]<0>`.
        mutating func readAtomText(allowSection: Bool = false) -> String {
            let start = index
            while let c = peek {
                if c == UInt8(ascii: "[") && allowSection {
                    while let d = peek, d != UInt8(ascii: "]"), d != 13 { index += 1 }
                    if peek == UInt8(ascii: "]") { index += 1 }
                    continue
                }
                if c <= 32 || c == 127 || c == UInt8(ascii: "(") || c == UInt8(ascii: ")") || c == UInt8(ascii: "{")
                    || c == UInt8(ascii: "\"") || (c == UInt8(ascii: "]") && !allowSection) {
                    break
                }
                index += 1
            }
            return String(decoding: bytes[start..<index], as: UTF8.self)
        }

        /// The rest of the line without CRLF.
        mutating func restOfLine() -> String {
            let start = index
            while let c = peek, c != 13, c != 10 { index += 1 }
            return String(decoding: bytes[start..<index], as: UTF8.self)
        }
    }
}

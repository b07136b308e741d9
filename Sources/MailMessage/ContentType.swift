/// A parsed `Content-Type` (or `Content-Disposition`) value: a type/subtype or disposition token plus
/// parameters, with RFC 2231 continuations and charsets decoded and RFC 2047 words in quoted values
/// accepted (what Outlook and Gmail emit for file names).
public struct ContentType: Sendable, Hashable, CustomStringConvertible {
    /// Lowercased media type, e.g. `text`.
    public let type: String
    /// Lowercased subtype, e.g. `plain`.
    public let subtype: String
    /// Parameters in order; names are lowercased, values decoded.
    public let parameters: [(name: String, value: String)]

    /// Creates a content type.
    public init(type: String, subtype: String, parameters: [(name: String, value: String)] = []) {
        self.type = asciiLowercased(type)
        self.subtype = asciiLowercased(subtype)
        self.parameters = parameters
    }

    /// `text/plain; charset=us-ascii`, the RFC 2045 default.
    public static let textPlain = ContentType(type: "text", subtype: "plain")
    /// `message/rfc822`, the default inside `multipart/digest`.
    public static let messageRFC822 = ContentType(type: "message", subtype: "rfc822")

    /// `type/subtype`.
    public var mimeType: String { type + "/" + subtype }

    /// The value of a parameter (case-insensitive name).
    public func parameter(_ name: String) -> String? {
        parameters.first { HeaderField.namesEqual($0.name, name) }?.value
    }

    /// The `charset` parameter.
    public var charset: String? { parameter("charset") }
    /// The `boundary` parameter.
    public var boundary: String? { parameter("boundary") }
    /// True for `multipart/*`.
    public var isMultipart: Bool { type == "multipart" }
    /// True for the given type and subtype (lowercase).
    public func `is`(_ type: String, _ subtype: String) -> Bool { self.type == type && self.subtype == subtype }

    public var description: String {
        var s = mimeType
        for p in parameters { s += "; \(p.name)=\"\(p.value)\"" }
        return s
    }

    public static func == (a: ContentType, b: ContentType) -> Bool {
        a.type == b.type && a.subtype == b.subtype && a.parameters.elementsEqual(b.parameters) { $0.name == $1.name && $0.value == $1.value }
    }

    public func hash(into h: inout Hasher) {
        h.combine(type); h.combine(subtype)
        for p in parameters { h.combine(p.name); h.combine(p.value) }
    }

    /// Parses a `Content-Type` header value. Nil when there is no valid `type/subtype`.
    public init?(parsing value: String) {
        let bytes = Array(value.utf8)
        var p = ParamScanner(bytes)
        guard let t = p.token(), p.skip(UInt8(ascii: "/")), let st = p.token() else { return nil }
        self.init(type: t, subtype: st, parameters: p.parameters())
    }

    /// Parses a `Content-Disposition` value into its lowercased token (e.g. `attachment`) and
    /// parameters. Returns nil when there is no token.
    public static func parseDisposition(_ value: String) -> (disposition: String, parameters: [(name: String, value: String)])? {
        var p = ParamScanner(Array(value.utf8))
        guard let t = p.token() else { return nil }
        return (asciiLowercased(t), p.parameters())
    }
}

/// A tolerant scanner for `token *(";" param)` header values (RFC 2045, RFC 2231).
struct ParamScanner {
    let s: [UInt8]
    var i = 0

    init(_ s: [UInt8]) { self.s = s }

    mutating func skipCFWS() {
        while i < s.count {
            let c = s[i]
            if isWSP(c) || c == cr || c == lf { i += 1; continue }
            if c == UInt8(ascii: "(") {
                var depth = 0
                while i < s.count {
                    let d = s[i]
                    if d == UInt8(ascii: "\\") { i += 2; continue }
                    if d == UInt8(ascii: "(") { depth += 1 } else if d == UInt8(ascii: ")") { depth -= 1; if depth == 0 { i += 1; break } }
                    i += 1
                }
                continue
            }
            break
        }
        if i > s.count { i = s.count }
    }

    mutating func skip(_ c: UInt8) -> Bool {
        skipCFWS()
        if i < s.count, s[i] == c { i += 1; return true }
        return false
    }

    static func isTokenChar(_ c: UInt8) -> Bool {
        if c <= 0x20 || c == 0x7F { return false }
        switch c {
        case UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "@"), UInt8(ascii: ","),
             UInt8(ascii: ";"), UInt8(ascii: ":"), UInt8(ascii: "\\"), UInt8(ascii: "\""), UInt8(ascii: "/"), UInt8(ascii: "["),
             UInt8(ascii: "]"), UInt8(ascii: "?"), UInt8(ascii: "="):
            return false
        default: return true
        }
    }

    mutating func token() -> String? {
        skipCFWS()
        let start = i
        while i < s.count, ParamScanner.isTokenChar(s[i]) { i += 1 }
        guard i > start else { return nil }
        return String(decoding: s[start..<i], as: UTF8.self)
    }

    /// A parameter value: quoted string or (tolerantly) everything up to `;`.
    mutating func value() -> (bytes: [UInt8], quoted: Bool) {
        skipCFWS()
        guard i < s.count else { return ([], false) }
        if s[i] == UInt8(ascii: "\"") {
            i += 1
            var out: [UInt8] = []
            while i < s.count, s[i] != UInt8(ascii: "\"") {
                if s[i] == UInt8(ascii: "\\"), i + 1 < s.count { i += 1 }
                if s[i] != cr && s[i] != lf { out.append(s[i]) }
                i += 1
            }
            if i < s.count { i += 1 }
            return (out, true)
        }
        let start = i
        while i < s.count, s[i] != UInt8(ascii: ";") { i += 1 }
        var hi = i
        while hi > start, isWSP(s[hi - 1]) || s[hi - 1] == cr || s[hi - 1] == lf { hi -= 1 }
        return (Array(s[start..<hi]), false)
    }

    /// Parses `*(";" name "=" value)`, joining RFC 2231 continuations and decoding charsets.
    mutating func parameters() -> [(name: String, value: String)] {
        struct Piece { var index: Int; var encoded: Bool; var bytes: [UInt8] }
        var order: [String] = []
        var plain: [String: [UInt8]] = [:]
        var plainQuoted: [String: Bool] = [:]
        var pieces: [String: [Piece]] = [:]
        var guardCount = 0
        while i < s.count, guardCount < 256 {
            guardCount += 1
            let before = i
            skipCFWS()
            if i < s.count, s[i] == UInt8(ascii: ";") { i += 1; continue }
            guard let rawName = token() else {
                // Skip garbage up to the next ';'.
                while i < s.count, s[i] != UInt8(ascii: ";") { i += 1 }
                if i == before { i += 1 }
                continue
            }
            guard skip(UInt8(ascii: "=")) else {
                while i < s.count, s[i] != UInt8(ascii: ";") { i += 1 }
                continue
            }
            let (v, quoted) = value()
            var name = asciiLowercased(rawName)
            // RFC 2231: name*  |  name*N  |  name*N*
            if let star = name.firstIndex(of: "*") {
                let base = String(name[..<star])
                let rest = name[name.index(after: star)...]
                var encoded = false
                var index = 0
                if rest.isEmpty {
                    encoded = true
                } else {
                    var digits = rest
                    if digits.hasSuffix("*") { encoded = true; digits = digits.dropLast() }
                    index = Int(digits) ?? 0
                }
                if pieces[base] == nil && plain[base] == nil { order.append(base) }
                pieces[base, default: []].append(Piece(index: min(index, 1000), encoded: encoded, bytes: v))
                name = base
            } else {
                if plain[name] == nil && pieces[name] == nil { order.append(name) }
                if plain[name] == nil { plain[name] = v; plainQuoted[name] = quoted }
            }
        }
        var result: [(name: String, value: String)] = []
        for name in order {
            if var ps = pieces[name] {
                ps.sort { $0.index < $1.index }
                var charset: String?
                var joined: [UInt8] = []
                for (k, p) in ps.enumerated() {
                    var b = p.bytes[...]
                    if p.encoded && k == 0 {
                        // charset'language'value
                        if let q1 = b.firstIndex(of: UInt8(ascii: "'")), let q2 = b[(q1 + 1)...].firstIndex(of: UInt8(ascii: "'")) {
                            charset = String(decoding: b[b.startIndex..<q1], as: UTF8.self)
                            b = b[(q2 + 1)...]
                        }
                    }
                    if p.encoded { joined += ParamScanner.percentDecode(b) } else { joined += b }
                }
                let cs = (charset?.isEmpty ?? true) ? nil : charset
                result.append((name, Charset.decodeToUTF8(joined, charset: cs ?? "utf-8").bytes.asString))
            } else if let v = plain[name] {
                // Encoded words inside quoted values (non-standard, but common for file names).
                let text = v.contains(UInt8(ascii: "=")) ? EncodedWord.decode(v) : Charset.decodeHeaderBytes(v)
                result.append((name, text))
            }
        }
        return result
    }

    static func percentDecode(_ b: ArraySlice<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(b.count)
        var k = b.startIndex
        while k < b.endIndex {
            if b[k] == UInt8(ascii: "%"), k + 2 < b.endIndex, let h = hexValue(b[k + 1]), let l = hexValue(b[k + 2]) {
                out.append(h << 4 | l)
                k += 3
            } else {
                out.append(b[k])
                k += 1
            }
        }
        return out
    }
}

extension Array where Element == UInt8 {
    var asString: String { String(decoding: self, as: UTF8.self) }
}

/// One mailbox: an optional display name and an addr-spec.
public struct Mailbox: Sendable, Hashable, CustomStringConvertible {
    /// The display name with quoting removed and encoded words decoded, or nil.
    public let displayName: String?
    /// The local part as written (quotes removed for a quoted local part).
    public let localPart: String
    /// The domain as written.
    public let domain: String

    /// Creates a mailbox.
    public init(displayName: String? = nil, localPart: String, domain: String) {
        self.displayName = displayName
        self.localPart = localPart
        self.domain = domain
    }

    /// `local@domain`.
    public var address: String { localPart + "@" + domain }

    /// `local@domain` with ASCII letters lowercased, for case-insensitive comparison.
    public var normalizedAddress: String { asciiLowercased(address) }

    public var description: String {
        if let d = displayName, !d.isEmpty { return "\(d) <\(address)>" }
        return address
    }
}

/// An entry of an address list: a mailbox or a named group of mailboxes.
public enum Address: Sendable, Hashable {
    case mailbox(Mailbox)
    case group(name: String, members: [Mailbox])

    /// The mailboxes of this entry (one, or a group's members).
    public var mailboxes: [Mailbox] {
        switch self {
        case .mailbox(let m): return [m]
        case .group(_, let ms): return ms
        }
    }
}

/// Why an address list could not be parsed.
public struct AddressParseError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of error.
    public enum Kind: String, Sendable, Hashable {
        case empty, unexpectedCharacter, missingAt, missingDomain, emptyLocalPart, unterminatedQuote
        case unterminatedComment, unterminatedAngle, unterminatedDomainLiteral, unterminatedGroup
        case invalidLocalPart, invalidDomain, controlCharacter, tooLong
    }

    /// The kind of error.
    public let kind: Kind
    /// Byte offset in the input.
    public let offset: Int
    /// The input (truncated to 200 bytes).
    public let input: String

    public var description: String { "\(kind.rawValue) at byte \(offset) in \(input.debugDescription)" }
}

/// Syntax features seen while parsing one mailbox; the strict sender check rejects most of them.
struct MailboxFeatures: Sendable, Hashable {
    var comment = false
    var encodedWordInAddrSpec = false
    var quotedLocalPart = false
    var domainLiteral = false
    var route = false
    var obsoleteLocalPart = false
}

/// A strict RFC 5322 address parser (with RFC 6532 UTF-8): display names, comments, quoted local
/// parts, groups, obsolete routes and encoded words in display names.
public enum AddressParser {
    /// Parses an address list (`To`, `Cc`, `From`...). Throws on any syntax error.
    public static func parseList(_ value: String) throws(AddressParseError) -> [Address] {
        try parseDetailed(Array(value.utf8)).map(\.address)
    }

    /// Parses a field that must hold exactly one mailbox (not a group).
    public static func parseSingleMailbox(_ value: String) throws(AddressParseError) -> Mailbox {
        let list = try parseList(value)
        guard list.count == 1, case .mailbox(let m) = list[0] else {
            throw AddressParseError(kind: .unexpectedCharacter, offset: 0, input: String(value.prefix(200)))
        }
        return m
    }

    struct Detailed {
        var address: Address
        var features: [MailboxFeatures]
    }

    static func parseDetailed(_ bytes: [UInt8]) throws(AddressParseError) -> [Detailed] {
        try parseWithComments(bytes).list
    }

    /// Parses and also reports whether any comment appeared anywhere in the field.
    static func parseWithComments(_ bytes: [UInt8]) throws(AddressParseError) -> (list: [Detailed], anyComment: Bool) {
        guard bytes.count <= 16_384 else {
            throw AddressParseError(kind: .tooLong, offset: 0, input: String(decoding: bytes.prefix(200), as: UTF8.self))
        }
        var p = AddressScanner(bytes)
        let list = try p.addressList()
        return (list, p.anyComment)
    }
}

/// The recursive-descent scanner behind `AddressParser`.
struct AddressScanner {
    let s: [UInt8]
    var i = 0
    var sawComment = false
    var anyComment = false

    init(_ s: [UInt8]) { self.s = s }

    func error(_ k: AddressParseError.Kind, _ at: Int? = nil) -> AddressParseError {
        AddressParseError(kind: k, offset: at ?? i, input: String(decoding: s.prefix(200), as: UTF8.self))
    }

    static func isSpecial(_ c: UInt8) -> Bool {
        switch c {
        case UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "["), UInt8(ascii: "]"),
             UInt8(ascii: ":"), UInt8(ascii: ";"), UInt8(ascii: "@"), UInt8(ascii: "\\"), UInt8(ascii: ","), UInt8(ascii: "."),
             UInt8(ascii: "\""):
            return true
        default: return false
        }
    }

    static func isAtext(_ c: UInt8) -> Bool { c > 0x20 && c != 0x7F && !isSpecial(c) }

    mutating func skipCFWS() throws(AddressParseError) {
        while i < s.count {
            let c = s[i]
            if c == space || c == tab || c == cr || c == lf { i += 1; continue }
            if c < 0x20 || c == 0x7F { throw error(.controlCharacter) }
            if c == UInt8(ascii: "(") {
                sawComment = true
                anyComment = true
                let start = i
                var depth = 0
                while true {
                    guard i < s.count else { throw error(.unterminatedComment, start) }
                    let d = s[i]
                    if d == UInt8(ascii: "\\") { i += 2; continue }
                    if d == UInt8(ascii: "(") { depth += 1 } else if d == UInt8(ascii: ")") {
                        depth -= 1
                        if depth == 0 { i += 1; break }
                    }
                    i += 1
                }
                continue
            }
            break
        }
    }

    /// A word: atom or quoted string. Returns the text and whether it was quoted.
    mutating func word() throws(AddressParseError) -> (text: [UInt8], quoted: Bool)? {
        try skipCFWS()
        guard i < s.count else { return nil }
        if s[i] == UInt8(ascii: "\"") {
            let start = i
            i += 1
            var out: [UInt8] = []
            while true {
                guard i < s.count else { throw error(.unterminatedQuote, start) }
                let c = s[i]
                if c == UInt8(ascii: "\"") { i += 1; break }
                if c == UInt8(ascii: "\\") {
                    guard i + 1 < s.count else { throw error(.unterminatedQuote, start) }
                    out.append(s[i + 1]); i += 2; continue
                }
                if c == 0 { throw error(.controlCharacter) }
                if c != cr && c != lf { out.append(c) }
                i += 1
            }
            return (out, true)
        }
        let start = i
        while i < s.count, AddressScanner.isAtext(s[i]) { i += 1 }
        guard i > start else { return nil }
        return (Array(s[start..<i]), false)
    }

    mutating func addressList() throws(AddressParseError) -> [AddressParser.Detailed] {
        var out: [AddressParser.Detailed] = []
        while true {
            try skipCFWS()
            if i >= s.count { break }
            if s[i] == UInt8(ascii: ",") { i += 1; continue } // obs: empty list elements
            out.append(try address())
            try skipCFWS()
            if i >= s.count { break }
            guard s[i] == UInt8(ascii: ",") else { throw error(.unexpectedCharacter) }
            i += 1
        }
        guard !out.isEmpty else { throw error(.empty) }
        return out
    }

    /// phrase / local-part tokens up to the next special that decides what this is.
    mutating func address() throws(AddressParseError) -> AddressParser.Detailed {
        sawComment = false
        let startPos = i
        var words: [(text: [UInt8], quoted: Bool)] = []
        var dots: [Bool] = [] // dots[k]: a '.' precedes word k
        var pendingDot = false
        var hasEncodedWord = false
        while true {
            if let w = try word() {
                words.append(w); dots.append(pendingDot); pendingDot = false
                if !w.quoted, isEncodedWord(w.text) { hasEncodedWord = true }
                continue
            }
            try skipCFWS()
            if i < s.count, s[i] == UInt8(ascii: ".") { i += 1; pendingDot = true; continue }
            break
        }
        guard i < s.count || !words.isEmpty else { throw error(.empty) }
        let c: UInt8 = i < s.count ? s[i] : 0
        if c == UInt8(ascii: "<") {
            let name = displayName(words, dots)
            var f = MailboxFeatures()
            let mb = try angleAddr(displayName: name, features: &f)
            f.comment = f.comment || sawComment
            return .init(address: .mailbox(mb), features: [f])
        }
        if c == UInt8(ascii: ":") {
            guard !words.isEmpty else { throw error(.unexpectedCharacter) }
            i += 1
            let name = displayName(words, dots) ?? ""
            var members: [Mailbox] = []
            var feats: [MailboxFeatures] = []
            while true {
                try skipCFWS()
                guard i < s.count else { throw error(.unterminatedGroup, startPos) }
                if s[i] == UInt8(ascii: ";") { i += 1; break }
                if s[i] == UInt8(ascii: ",") { i += 1; continue }
                let d = try address()
                guard case .mailbox(let m) = d.address else { throw error(.unexpectedCharacter) } // no nested groups
                members.append(m)
                feats += d.features
            }
            return .init(address: .group(name: name, members: members), features: feats)
        }
        if c == UInt8(ascii: "@") {
            // The words were a local part.
            var f = MailboxFeatures()
            let local = try localPart(words, dots, encoded: hasEncodedWord, features: &f)
            i += 1
            let domain = try domainPart(features: &f)
            f.comment = f.comment || sawComment
            return .init(address: .mailbox(Mailbox(displayName: nil, localPart: local, domain: domain)), features: [f])
        }
        if words.isEmpty { throw error(.unexpectedCharacter) }
        throw error(.missingAt)
    }

    func isEncodedWord(_ w: [UInt8]) -> Bool {
        guard let a = ReplyExtractor.find([UInt8(ascii: "="), UInt8(ascii: "?")], in: w, from: 0) else { return false }
        return ReplyExtractor.find([UInt8(ascii: "?"), UInt8(ascii: "=")], in: w, from: a + 2) != nil
    }

    func displayName(_ words: [(text: [UInt8], quoted: Bool)], _ dots: [Bool]) -> String? {
        guard !words.isEmpty else { return nil }
        var raw: [UInt8] = []
        for (k, w) in words.enumerated() {
            if k > 0 {
                if dots[k] { raw.append(UInt8(ascii: ".")) }
                raw.append(space)
            }
            raw += w.text
        }
        return EncodedWord.decode(raw)
    }

    func localPart(_ words: [(text: [UInt8], quoted: Bool)], _ dots: [Bool], encoded: Bool,
                   features f: inout MailboxFeatures) throws(AddressParseError) -> String {
        guard !words.isEmpty else { throw error(.emptyLocalPart) }
        var out: [UInt8] = []
        for (k, w) in words.enumerated() {
            if k > 0 {
                guard dots[k] else { throw error(.invalidLocalPart) } // "a b@c"
                out.append(UInt8(ascii: "."))
            } else if dots[k] {
                throw error(.invalidLocalPart) // ".a@b"
            }
            if w.quoted { f.quotedLocalPart = true }
            out += w.text
        }
        if words.count > 1 && words.contains(where: \.quoted) { f.obsoleteLocalPart = true }
        if encoded || isEncodedWord(out) { f.encodedWordInAddrSpec = true }
        return String(decoding: out, as: UTF8.self)
    }

    mutating func domainPart(features f: inout MailboxFeatures) throws(AddressParseError) -> String {
        try skipCFWS()
        guard i < s.count else { throw error(.missingDomain) }
        if s[i] == UInt8(ascii: "[") {
            let start = i
            while i < s.count, s[i] != UInt8(ascii: "]") {
                if s[i] == UInt8(ascii: "[") && i != start { throw error(.invalidDomain) }
                if s[i] == UInt8(ascii: "\\") { i += 1 }
                i += 1
            }
            guard i < s.count else { throw error(.unterminatedDomainLiteral, start) }
            i += 1
            f.domainLiteral = true
            return String(decoding: s[start..<i], as: UTF8.self)
        }
        var out: [UInt8] = []
        var expectAtom = true
        while true {
            try skipCFWS()
            guard i < s.count else { break }
            let c = s[i]
            if expectAtom {
                let start = i
                while i < s.count, AddressScanner.isAtext(s[i]) { i += 1 }
                guard i > start else { throw error(out.isEmpty ? .missingDomain : .invalidDomain) }
                out += s[start..<i]
                expectAtom = false
            } else if c == UInt8(ascii: ".") {
                out.append(c); i += 1; expectAtom = true
            } else {
                break
            }
        }
        guard !out.isEmpty, !expectAtom else { throw error(.invalidDomain) }
        if isEncodedWord(out) { f.encodedWordInAddrSpec = true }
        return String(decoding: out, as: UTF8.self)
    }

    mutating func angleAddr(displayName: String?, features f: inout MailboxFeatures) throws(AddressParseError) -> Mailbox {
        let start = i
        i += 1 // '<'
        try skipCFWS()
        // obs-route: "@a,@b:"
        if i < s.count, s[i] == UInt8(ascii: "@") {
            f.route = true
            while i < s.count, s[i] != UInt8(ascii: ":"), s[i] != UInt8(ascii: ">") { i += 1 }
            guard i < s.count, s[i] == UInt8(ascii: ":") else { throw error(.unterminatedAngle, start) }
            i += 1
        }
        var words: [(text: [UInt8], quoted: Bool)] = []
        var dots: [Bool] = []
        var pendingDot = false
        var encoded = false
        while true {
            if let w = try word() {
                words.append(w); dots.append(pendingDot); pendingDot = false
                if !w.quoted, isEncodedWord(w.text) { encoded = true }
                continue
            }
            try skipCFWS()
            if i < s.count, s[i] == UInt8(ascii: ".") { i += 1; pendingDot = true; continue }
            break
        }
        guard i < s.count else { throw error(.unterminatedAngle, start) }
        guard s[i] == UInt8(ascii: "@") else {
            throw error(s[i] == UInt8(ascii: ">") ? (words.isEmpty ? .emptyLocalPart : .missingAt) : .unexpectedCharacter)
        }
        if pendingDot { throw error(.invalidLocalPart) }
        let local = try localPart(words, dots, encoded: encoded, features: &f)
        i += 1
        let domain = try domainPart(features: &f)
        try skipCFWS()
        guard i < s.count, s[i] == UInt8(ascii: ">") else { throw error(i < s.count ? .unexpectedCharacter : .unterminatedAngle, start) }
        i += 1
        return Mailbox(displayName: displayName, localPart: local, domain: domain)
    }
}

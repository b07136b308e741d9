#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A parsed Internet message (RFC 5322 + MIME). Parsing is linear in the input, bounded by
/// `MailLimits`, and never fails on malformed input: irregularities are recorded in `defects`.
///
/// ```swift
/// let message = try MailMessage(parsing: bytes)
/// message.headers["Message-ID"]
/// message.bodyText()?.text
/// ```
public struct MailMessage: Sendable {
    /// The message bytes as given.
    public let bytes: [UInt8]
    /// The root MIME part (its headers are the message headers).
    public let root: MIMEPart
    /// Irregularities noticed while parsing.
    public let defects: [MailDefect]

    /// The message header fields.
    public var headers: HeaderFields { root.headers }

    /// The `Subject` with encoded words decoded.
    public var subject: String? { headers.first(named: "Subject")?.decodedValue }

    /// Parses a message. Throws only when it is empty or larger than `limits.maxMessageBytes`.
    public init(parsing bytes: [UInt8], limits: MailLimits = .default) throws(MailParseError) {
        guard !bytes.isEmpty else { throw MailParseError(kind: .empty, size: 0, limit: nil) }
        guard bytes.count <= limits.maxMessageBytes else {
            throw MailParseError(kind: .tooLarge, size: bytes.count, limit: limits.maxMessageBytes)
        }
        var parser = MIMEParser(source: bytes, limits: limits)
        self.root = parser.parseMessage()
        self.bytes = bytes
        self.defects = parser.defects
    }

    /// Parses a message from a string (its UTF-8 bytes).
    public init(parsing string: String, limits: MailLimits = .default) throws(MailParseError) {
        try self.init(parsing: Array(string.utf8), limits: limits)
    }

    /// Every part, depth first (embedded `message/rfc822` content is not entered).
    public var allParts: [MIMEPart] { root.allParts }

    /// The body part as the reply grammar defines it: the first `text/plain` part that is not an
    /// attachment, else the first such `text/html` part. `message/rfc822` parts are never entered,
    /// and of a `multipart/related` only the root (first) part is considered.
    public func bodyPart() -> MIMEPart? {
        MailMessage.findBody(root, subtype: "plain") ?? MailMessage.findBody(root, subtype: "html")
    }

    static func findBody(_ p: MIMEPart, subtype: String) -> MIMEPart? {
        if p.contentType.isMultipart {
            let kids = p.contentType.subtype == "related" ? Array(p.children.prefix(1)) : p.children
            for c in kids {
                if let r = findBody(c, subtype: subtype) { return r }
            }
            return nil
        }
        if p.contentType.type == "text", p.contentType.subtype == subtype, !p.isAttachment { return p }
        return nil
    }

    /// The decoded body text (see `bodyPart()`): plain text as is, HTML kept as HTML with
    /// `isHTML` set (use `HTMLToText.convert` or `plainText()` for text).
    public func bodyText() -> BodyText? {
        guard let part = bodyPart() else { return nil }
        return BodyText(utf8: part.textBytes(), isHTML: part.contentType.subtype == "html")
    }
}

/// Decoded body text of a message, as UTF-8 with LF line endings.
public struct BodyText: Sendable, Hashable {
    /// UTF-8 bytes of the text.
    public let utf8: [UInt8]
    /// True when the text is HTML (no text/plain alternative existed).
    public let isHTML: Bool

    /// Creates body text.
    public init(utf8: [UInt8], isHTML: Bool) {
        self.utf8 = utf8
        self.isHTML = isHTML
    }

    /// The text as a String (HTML markup included when `isHTML`).
    public var text: String { String(decoding: utf8, as: UTF8.self) }

    /// Number of Unicode scalars.
    public var scalarCount: Int {
        utf8.withUnsafeBufferPointer { p in
            var n = 0
            for b in p where b & 0xC0 != 0x80 { n += 1 }
            return n
        }
    }

    /// Plain text: HTML converted with `HTMLToText`, plain text as is.
    public func plainText() -> String {
        isHTML ? String(decoding: HTMLToText.convert(utf8), as: UTF8.self) : text
    }

    /// Plain text as UTF-8 bytes.
    func plainUTF8() -> [UInt8] { isHTML ? HTMLToText.convert(utf8) : utf8 }
}

/// The parser proper: one pass over the headers of each part and one boundary scan per multipart
/// level, using `memchr`/`memmem`.
struct MIMEParser {
    let source: [UInt8]
    let limits: MailLimits
    var defects: [MailDefect] = []
    var partCount = 0

    init(source: [UInt8], limits: MailLimits) {
        self.source = source
        self.limits = limits
    }

    mutating func parseMessage() -> MIMEPart {
        var start = 0
        // An mbox "From " line before the headers.
        if source.starts(with: Array("From ".utf8)) {
            if let e = source.withUnsafeBufferPointer({ findByte($0, lf, from: 0, to: $0.count) }) { start = e + 1 } else { start = source.count }
        }
        return parsePart(start..<source.count, defaultType: .textPlain, depth: 0)
    }

    mutating func defect(_ k: MailDefect.Kind, _ offset: Int, _ detail: String = "") {
        if defects.count < 100 { defects.append(MailDefect(k, offset: offset, detail: detail)) }
    }

    /// Parses a header block starting at `range.lowerBound`; returns the fields and the body start.
    mutating func parseHeaders(_ range: Range<Int>) -> ([HeaderField], Int) {
        var fields: [HeaderField] = []
        var pendingName: String?
        var pendingValueStart = 0
        var pendingValueEnd = 0
        var pos = range.lowerBound
        let end = range.upperBound
        var bodyStart = end
        var tooMany = false
        func flush(_ fields: inout [HeaderField]) {
            if let n = pendingName {
                fields.append(HeaderField(name: n, rawValue: source[pendingValueStart..<pendingValueEnd]))
                pendingName = nil
            }
        }
        source.withUnsafeBufferPointer { s in
            while pos < end {
                let nl = findByte(s, lf, from: pos, to: end)
                let lineEnd = nl ?? end               // index of LF (or end)
                var contentEnd = lineEnd              // without CR
                if contentEnd > pos, s[contentEnd - 1] == cr { contentEnd -= 1 }
                let next = nl.map { $0 + 1 } ?? end
                if contentEnd == pos {
                    // Blank line: end of headers.
                    bodyStart = next
                    return
                }
                let first = s[pos]
                if first == space || first == tab {
                    if pendingName != nil { pendingValueEnd = contentEnd }
                    pos = next
                    continue
                }
                // name ":" (obsolete syntax allows whitespace before the colon)
                var k = pos
                while k < contentEnd, s[k] != UInt8(ascii: ":"), s[k] > 0x20, s[k] < 0x7F { k += 1 }
                var nameEnd = k
                while k < contentEnd, isWSP(s[k]) { k += 1 }
                guard k < contentEnd, s[k] == UInt8(ascii: ":"), nameEnd > pos else {
                    // Not a header line: the body starts here.
                    flush(&fields)
                    defect(.missingHeaderBodySeparator, pos)
                    bodyStart = pos
                    return
                }
                while nameEnd > pos, isWSP(s[nameEnd - 1]) { nameEnd -= 1 }
                flush(&fields)
                if fields.count >= limits.maxHeaderFields {
                    if !tooMany { defect(.tooManyHeaderFields, pos); tooMany = true }
                } else {
                    pendingName = String(decoding: UnsafeBufferPointer(rebasing: s[pos..<nameEnd]), as: UTF8.self)
                    pendingValueStart = k + 1
                    pendingValueEnd = contentEnd
                }
                pos = next
            }
            bodyStart = end
        }
        flush(&fields)
        return (fields, bodyStart)
    }

    mutating func parsePart(_ range: Range<Int>, defaultType: ContentType, depth: Int) -> MIMEPart {
        partCount += 1
        let (fields, bodyStart) = parseHeaders(range)
        let headers = HeaderFields(fields)
        var ctype = defaultType
        if let f = headers.first(named: "Content-Type") {
            if let ct = ContentType(parsing: f.value) {
                ctype = ct
            } else {
                defect(.invalidContentType, range.lowerBound, f.value)
                ctype = .textPlain
            }
        }
        let bodyRange = bodyStart..<range.upperBound
        guard ctype.isMultipart else {
            return MIMEPart(headers: headers, contentType: ctype, bodyRange: bodyRange, children: [],
                            preambleRange: nil, epilogueRange: nil, depth: depth, source: source)
        }
        guard depth < limits.maxDepth else {
            defect(.tooDeep, bodyStart)
            return MIMEPart(headers: headers, contentType: ctype, bodyRange: bodyRange, children: [],
                            preambleRange: nil, epilogueRange: nil, depth: depth, source: source)
        }
        guard let boundary = ctype.boundary, !boundary.isEmpty else {
            defect(.multipartWithoutBoundary, bodyStart)
            return MIMEPart(headers: headers, contentType: ctype, bodyRange: bodyRange, children: [],
                            preambleRange: nil, epilogueRange: nil, depth: depth, source: source)
        }
        let (partRanges, preamble, epilogue) = splitMultipart(bodyRange, boundary: Array(boundary.utf8))
        let childDefault: ContentType = ctype.subtype == "digest" ? .messageRFC822 : .textPlain
        var children: [MIMEPart] = []
        children.reserveCapacity(partRanges.count)
        for r in partRanges {
            if partCount >= limits.maxParts {
                defect(.tooManyParts, r.lowerBound)
                break
            }
            children.append(parsePart(r, defaultType: childDefault, depth: depth + 1))
        }
        return MIMEPart(headers: headers, contentType: ctype, bodyRange: bodyRange, children: children,
                        preambleRange: preamble, epilogueRange: epilogue, depth: depth, source: source)
    }

    /// Finds the delimiter lines `--boundary[--] WSP* EOL` that start a line within `range`.
    mutating func splitMultipart(_ range: Range<Int>, boundary: [UInt8]) -> ([Range<Int>], Range<Int>?, Range<Int>?) {
        let delim = Array("--".utf8) + boundary
        var parts: [Range<Int>] = []
        var preamble: Range<Int>?
        var epilogue: Range<Int>?
        var closed = false
        var currentStart: Int? = nil
        let maxParts = limits.maxParts
        source.withUnsafeBufferPointer { s in
            delim.withUnsafeBufferPointer { d in
                let end = range.upperBound
                // Candidate line starts: the range start, then every byte after a LF.
                var m = range.lowerBound
                var first = true
                while true {
                    if !first {
                        guard let nl = findByte(s, lf, from: m, to: end) else { break }
                        m = nl + 1
                    }
                    first = false
                    guard end - m >= d.count, s[m] == UInt8(ascii: "-"), memcmp(s.baseAddress! + m, d.baseAddress!, d.count) == 0 else { continue }
                    var k = m + d.count
                    var isClose = false
                    if k + 1 < end, s[k] == UInt8(ascii: "-"), s[k + 1] == UInt8(ascii: "-") { isClose = true; k += 2 }
                    while k < end, isWSP(s[k]) { k += 1 }
                    var after = k
                    if k < end {
                        if s[k] == lf { after = k + 1 } else if s[k] == cr { after = (k + 1 < end && s[k + 1] == lf) ? k + 2 : k + 1 } else { continue }
                    }
                    // The line break before the delimiter belongs to the delimiter.
                    var contentEnd = m
                    if contentEnd > range.lowerBound, s[contentEnd - 1] == lf {
                        contentEnd -= 1
                        if contentEnd > range.lowerBound, s[contentEnd - 1] == cr { contentEnd -= 1 }
                    }
                    if let cs = currentStart {
                        parts.append(cs..<max(cs, contentEnd))
                    } else if contentEnd > range.lowerBound {
                        preamble = range.lowerBound..<contentEnd
                    }
                    if isClose {
                        closed = true
                        if after < end { epilogue = after..<end }
                        return
                    }
                    currentStart = after
                    m = max(m, after - 1)
                    if after >= end { break }
                    if parts.count > maxParts { return }
                }
            }
        }
        if !closed {
            if let cs = currentStart {
                parts.append(cs..<range.upperBound)
                defect(.missingEndBoundary, range.upperBound)
            } else {
                defect(.missingStartBoundary, range.lowerBound)
            }
        }
        return (parts, preamble, epilogue)
    }
}

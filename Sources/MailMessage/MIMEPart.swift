/// One node of a parsed message's MIME tree. Parts refer to byte ranges of the message; nothing is
/// decoded until asked (`decodedBody()`, `text()`), so attachments cost only a boundary scan.
public struct MIMEPart: Sendable {
    /// The part's header fields (for the root part, the message headers).
    public let headers: HeaderFields
    /// The effective content type (the RFC 2045 default when the header is missing or invalid).
    public let contentType: ContentType
    /// Byte range of the body (after the blank line) within the message.
    public let bodyRange: Range<Int>
    /// Child parts of a multipart, in order; empty for leaves.
    public let children: [MIMEPart]
    /// Byte range of the multipart preamble (before the first boundary), if any.
    public let preambleRange: Range<Int>?
    /// Byte range of the multipart epilogue (after the closing boundary), if any.
    public let epilogueRange: Range<Int>?
    /// Depth in the tree (0 for the root).
    public let depth: Int
    let source: [UInt8]

    init(headers: HeaderFields, contentType: ContentType, bodyRange: Range<Int>, children: [MIMEPart],
         preambleRange: Range<Int>?, epilogueRange: Range<Int>?, depth: Int, source: [UInt8]) {
        self.headers = headers
        self.contentType = contentType
        self.bodyRange = bodyRange
        self.children = children
        self.preambleRange = preambleRange
        self.epilogueRange = epilogueRange
        self.depth = depth
        self.source = source
    }

    /// The raw (still transfer-encoded) body bytes.
    public var rawBody: ArraySlice<UInt8> { source[bodyRange] }

    /// The `Content-Transfer-Encoding`.
    public var transferEncoding: TransferEncoding {
        TransferEncoding(headerValue: headers["Content-Transfer-Encoding"])
    }

    /// The lowercased `Content-Disposition` token (`inline`, `attachment`), if present.
    public var disposition: String? {
        guard let v = headers.first(named: "Content-Disposition")?.value else { return nil }
        return ContentType.parseDisposition(v)?.disposition
    }

    /// The file name from `Content-Disposition; filename` or `Content-Type; name` (RFC 2231 and
    /// RFC 2047 forms decoded).
    public var filename: String? {
        if let v = headers.first(named: "Content-Disposition")?.value,
           let d = ContentType.parseDisposition(v),
           let f = d.parameters.first(where: { $0.name == "filename" })?.value {
            return f
        }
        return contentType.parameter("name")
    }

    /// True for parts meant as attachments: `Content-Disposition: attachment`, or a named part that
    /// is not explicitly inline.
    public var isAttachment: Bool {
        switch disposition {
        case "attachment"?: return true
        case "inline"?: return false
        default: return contentType.parameter("name") != nil
        }
    }

    /// True for `message/rfc822` (and `message/global`) parts. Their content is not parsed unless
    /// `embeddedMessage()` is called.
    public var isEmbeddedMessage: Bool {
        contentType.type == "message" && (contentType.subtype == "rfc822" || contentType.subtype == "global")
    }

    /// The body with the transfer encoding removed.
    public func decodedBody() -> [UInt8] {
        transferEncoding.decode(rawBody)
    }

    /// For `text/*` parts: the body decoded (transfer encoding, charset) to a String with LF line
    /// endings and `format=flowed` undone. Nil for non-text parts.
    public func text() -> String? {
        guard contentType.type == "text" else { return nil }
        return String(decoding: textBytes(), as: UTF8.self)
    }

    /// The decoded text as UTF-8 bytes with LF line endings (any content type).
    func textBytes() -> [UInt8] {
        let raw = decodedBody()
        var utf8 = Charset.decodeToUTF8(raw, charset: contentType.charset).bytes
        utf8 = normalizeLineEndings(utf8)
        if contentType.subtype == "plain", let f = contentType.parameter("format"), asciiLowercased(f) == "flowed" {
            let delsp = contentType.parameter("delsp").map { asciiLowercased($0) == "yes" } ?? false
            utf8 = FormatFlowed.unflow(utf8, delSp: delsp)
        }
        return utf8
    }

    /// Parses the content of a `message/rfc822` part as a message. Nil for other parts.
    public func embeddedMessage(limits: MailLimits = .default) throws(MailParseError) -> MailMessage? {
        guard isEmbeddedMessage else { return nil }
        return try MailMessage(parsing: decodedBody(), limits: limits)
    }

    /// This part and all its descendants, depth first.
    public var allParts: [MIMEPart] {
        var out: [MIMEPart] = []
        func walk(_ p: MIMEPart) {
            out.append(p)
            for c in p.children { walk(c) }
        }
        walk(self)
        return out
    }
}

/// CRLF and lone CR to LF.
func normalizeLineEndings(_ b: [UInt8]) -> [UInt8] {
    guard b.contains(cr) else { return b }
    var out: [UInt8] = []
    out.reserveCapacity(b.count)
    var i = 0
    let n = b.count
    while i < n {
        let c = b[i]
        if c == cr {
            out.append(lf)
            if i + 1 < n, b[i + 1] == lf { i += 1 }
        } else {
            out.append(c)
        }
        i += 1
    }
    return out
}

/// RFC 2047 encoded words (`=?charset?B|Q?text?=`): decoding for display and encoding for the builder.
///
/// Decoding is lenient the way real mail needs: words adjacent to text, over-long words, a multi-byte
/// character split across two adjacent words, unknown charsets (read as UTF-8 or Windows-1252) and
/// missing base64 padding are all accepted. Whitespace between adjacent encoded words is dropped.
/// Time is linear in the input.
public enum EncodedWord {
    /// Decodes every encoded word in an unfolded header value.
    public static func decode(_ value: String) -> String {
        decode(Array(value.utf8))
    }

    /// A parsed encoded word.
    struct Word {
        var charset: String
        var bytes: [UInt8]
        var end: Int
    }

    /// Parses an encoded word starting at `i` (which points at `=?`). Stops at the third `?` so that
    /// failed attempts cost no more than the distance to the next question marks.
    static func parse(_ s: [UInt8], at i: Int) -> Word? {
        let n = s.count
        guard i + 1 < n, s[i] == UInt8(ascii: "="), s[i + 1] == UInt8(ascii: "?") else { return nil }
        var j = i + 2
        let csStart = j
        while j < n, s[j] != UInt8(ascii: "?"), !isWSP(s[j]), s[j] != cr, s[j] != lf { j += 1 }
        guard j < n, s[j] == UInt8(ascii: "?"), j > csStart else { return nil }
        var csEnd = j
        // RFC 2231 language suffix: charset*lang
        if let star = s[csStart..<csEnd].firstIndex(of: UInt8(ascii: "*")) { csEnd = star }
        guard csEnd > csStart else { return nil }
        j += 1
        guard j + 1 < n, s[j + 1] == UInt8(ascii: "?") else { return nil }
        let enc = asciiLower(s[j])
        guard enc == UInt8(ascii: "b") || enc == UInt8(ascii: "q") else { return nil }
        j += 2
        let textStart = j
        while j < n, s[j] != UInt8(ascii: "?"), !isWSP(s[j]), s[j] != cr, s[j] != lf { j += 1 }
        guard j + 1 < n, s[j] == UInt8(ascii: "?"), s[j + 1] == UInt8(ascii: "=") else { return nil }
        let text = s[textStart..<j]
        let bytes: [UInt8]
        if enc == UInt8(ascii: "b") {
            bytes = TransferEncoding.decodeBase64(text)
        } else {
            var out: [UInt8] = []
            out.reserveCapacity(text.count)
            var k = text.startIndex
            while k < text.endIndex {
                let c = text[k]
                if c == UInt8(ascii: "_") {
                    out.append(space)
                } else if c == UInt8(ascii: "="), k + 2 < text.endIndex, let h = hexValue(text[k + 1]), let l = hexValue(text[k + 2]) {
                    out.append(h << 4 | l)
                    k += 2
                } else {
                    out.append(c)
                }
                k += 1
            }
            bytes = out
        }
        let charset = String(decoding: s[csStart..<csEnd], as: UTF8.self)
        return Word(charset: charset, bytes: bytes, end: j + 2)
    }

    /// Decodes every encoded word in unfolded header bytes; other bytes are read as UTF-8 (or
    /// Windows-1252 if not valid UTF-8).
    static func decode(_ s: [UInt8]) -> String {
        guard s.count >= 8, let _ = s.firstIndex(of: UInt8(ascii: "=")) else {
            return Charset.decodeHeaderBytes(s)
        }
        var out: [UInt8] = []
        out.reserveCapacity(s.count)
        var pendingCharset: String?
        var pending: [UInt8] = []
        var gap: [UInt8] = [] // whitespace seen after the last word (dropped if another word follows)
        var literal: [UInt8] = []

        func flushPending() {
            if let cs = pendingCharset {
                out += Charset.decodeToUTF8(pending, charset: cs).bytes
                pendingCharset = nil
                pending.removeAll(keepingCapacity: true)
            }
        }
        func flushLiteral() {
            if !literal.isEmpty {
                out += Array(Charset.decodeHeaderBytes(literal).utf8)
                literal.removeAll(keepingCapacity: true)
            }
        }

        var i = 0
        let n = s.count
        while i < n {
            if s[i] == UInt8(ascii: "="), i + 1 < n, s[i + 1] == UInt8(ascii: "?"), let w = parse(s, at: i) {
                if pendingCharset != nil, literal.isEmpty {
                    // Adjacent words: drop the whitespace between them.
                    gap.removeAll(keepingCapacity: true)
                    if asciiLowercased(pendingCharset!) != asciiLowercased(w.charset) { flushPending() }
                } else {
                    flushPending()
                    literal += gap
                    gap.removeAll(keepingCapacity: true)
                    flushLiteral()
                }
                if pendingCharset == nil { pendingCharset = w.charset }
                pending += w.bytes
                i = w.end
                continue
            }
            let c = s[i]
            if pendingCharset != nil, literal.isEmpty, isWSP(c) || c == cr || c == lf {
                gap.append(c)
            } else {
                if pendingCharset != nil {
                    flushPending()
                    literal += gap
                    gap.removeAll(keepingCapacity: true)
                }
                literal.append(c)
            }
            i += 1
        }
        flushPending()
        literal += gap
        flushLiteral()
        return String(decoding: out, as: UTF8.self)
    }

    /// Encodes `text` as a sequence of UTF-8 encoded words (each at most 75 characters), separated by
    /// folding whitespace (CRLF SP), or returns it unchanged when it is printable ASCII without
    /// anything that could be mistaken for an encoded word. `firstLineRoom` is the room left on the
    /// line where the first word goes.
    public static func encodeIfNeeded(_ text: String, maxWordLength: Int = 75) -> String {
        let bytes = Array(text.utf8)
        let needs = bytes.contains { $0 >= 0x7F || ($0 < 0x20 && $0 != tab) } || text.contains("=?")
        if !needs { return text }
        return encode(bytes, maxWordLength: maxWordLength)
    }

    /// One encoded word for the whole text, however long. Used for display names: splitting a
    /// phrase into several words is decoded differently by different parsers (some keep the
    /// whitespace between adjacent words), so a name is never split.
    static func encodeSingleWord(_ bytes: [UInt8]) -> String {
        let nonASCII = bytes.reduce(0) { $0 + ($1 >= 0x80 ? 1 : 0) }
        if nonASCII * 3 < bytes.count { return "=?utf-8?q?" + qEncode(bytes) + "?=" }
        return "=?utf-8?b?" + TransferEncoding.encodeBase64Line(bytes) + "?="
    }

    /// Always encodes (B or Q, whichever is shorter), splitting on character boundaries.
    static func encode(_ bytes: [UInt8], maxWordLength: Int = 75) -> String {
        let nonASCII = bytes.reduce(0) { $0 + ($1 >= 0x80 ? 1 : 0) }
        let useQ = nonASCII * 3 < bytes.count
        let prefix = useQ ? "=?utf-8?q?" : "=?utf-8?b?"
        let maxPayload = max(16, min(75, maxWordLength) - prefix.utf8.count - 2)
        var words: [String] = []
        // Split into characters (UTF-8 sequences) so no word cuts a character.
        var chunk: [UInt8] = []
        var chunkLen = 0
        func encodedLength(of ch: ArraySlice<UInt8>) -> Int {
            if useQ { return ch.reduce(0) { $0 + (qSafe($1) ? 1 : 3) } }
            return 0
        }
        func emit() {
            guard !chunk.isEmpty else { return }
            words.append(prefix + (useQ ? qEncode(chunk) : TransferEncoding.encodeBase64Line(chunk)) + "?=")
            chunk.removeAll(keepingCapacity: true)
            chunkLen = 0
        }
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            var len = 1
            if b >= 0xF0 { len = 4 } else if b >= 0xE0 { len = 3 } else if b >= 0xC0 { len = 2 }
            len = min(len, bytes.count - i)
            let ch = bytes[i..<(i + len)]
            let add: Int
            if useQ {
                add = encodedLength(of: ch)
            } else {
                add = ((chunk.count + len + 2) / 3) * 4 - ((chunk.count + 2) / 3) * 4
            }
            if chunkLen + add > maxPayload { emit() }
            chunk += ch
            chunkLen = useQ ? chunkLen + add : ((chunk.count + 2) / 3) * 4
            i += len
        }
        emit()
        return words.joined(separator: "\r\n ")
    }

    static func qSafe(_ b: UInt8) -> Bool {
        isAlnumASCII(b) || b == UInt8(ascii: "!") || b == UInt8(ascii: "*") || b == UInt8(ascii: "+")
            || b == UInt8(ascii: "-") || b == UInt8(ascii: "/") || b == space
    }

    static func qEncode(_ bytes: [UInt8]) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        for b in bytes {
            if b == space { out.append(UInt8(ascii: "_")) } else if qSafe(b) { out.append(b) } else {
                out.append(UInt8(ascii: "=")); out.append(hex[Int(b >> 4)]); out.append(hex[Int(b & 15)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

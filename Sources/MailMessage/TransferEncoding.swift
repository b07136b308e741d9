/// Content-Transfer-Encoding: lenient decoders and strict encoders.
public enum TransferEncoding: String, Sendable, Hashable {
    case sevenBit = "7bit"
    case eightBit = "8bit"
    case binary
    case quotedPrintable = "quoted-printable"
    case base64

    /// Parses a `Content-Transfer-Encoding` value; unknown values read as 7bit (identity).
    public init(headerValue: String?) {
        guard let v = headerValue else { self = .sevenBit; return }
        let t = asciiLowercased(v).trimmingASCIISpaces
        switch t {
        case "quoted-printable": self = .quotedPrintable
        case "base64": self = .base64
        case "8bit": self = .eightBit
        case "binary": self = .binary
        default: self = .sevenBit
        }
    }

    /// Decodes `bytes` with this encoding. Never fails: invalid input is skipped or kept literally.
    public func decode(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
        switch self {
        case .base64: return TransferEncoding.decodeBase64(bytes)
        case .quotedPrintable: return TransferEncoding.decodeQuotedPrintable(bytes)
        default: return Array(bytes)
        }
    }

    static let b64Table: [UInt8] = {
        var t = [UInt8](repeating: 0xFF, count: 256)
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        for (i, c) in alphabet.enumerated() { t[Int(c)] = UInt8(i) }
        t[Int(UInt8(ascii: "-"))] = 62 // base64url, seen in broken mail
        t[Int(UInt8(ascii: "_"))] = 63
        return t
    }()

    /// Base64 decoding that ignores every byte outside the alphabet and stops at padding.
    public static func decodeBase64(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 3 / 4 + 3)
        b64Table.withUnsafeBufferPointer { table in
            bytes.withUnsafeBufferPointer { src in
                var acc: UInt32 = 0
                var bits = 0
                for c in src {
                    let v = table[Int(c)]
                    if v == 0xFF {
                        if c == UInt8(ascii: "=") {
                            // Padding ends a quantum; continue after it (concatenated base64 blocks).
                            acc = 0; bits = 0
                        }
                        continue
                    }
                    acc = (acc << 6) | UInt32(v)
                    bits += 6
                    if bits >= 8 {
                        bits -= 8
                        out.append(UInt8(truncatingIfNeeded: acc >> UInt32(bits)))
                        acc &= (1 << UInt32(bits)) - 1
                    }
                }
            }
        }
        return out
    }

    /// Quoted-printable decoding: `=XX` (either case), soft line breaks (also with trailing
    /// whitespace before the line break); malformed `=` sequences are kept literally.
    public static func decodeQuotedPrintable(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(bytes.count)
        bytes.withUnsafeBufferPointer { s in
            let n = s.count
            var i = 0
            while i < n {
                let c = s[i]
                if c != UInt8(ascii: "=") {
                    out.append(c)
                    i += 1
                    continue
                }
                if i + 2 < n, let h = hexValue(s[i + 1]), let l = hexValue(s[i + 2]) {
                    out.append(h << 4 | l)
                    i += 3
                    continue
                }
                // Soft line break: "=" [WSP*] (CRLF | LF | end)
                var j = i + 1
                while j < n, isWSP(s[j]) { j += 1 }
                if j == n { i = n; continue }
                if s[j] == lf { i = j + 1; continue }
                if s[j] == cr { i = (j + 1 < n && s[j + 1] == lf) ? j + 2 : j + 1; continue }
                out.append(c) // literal "="
                i += 1
            }
        }
        return out
    }

    /// Base64 of `bytes` on one line (no line breaks).
    static func encodeBase64Line(_ bytes: [UInt8]) -> String {
        let a = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i + 3 <= bytes.count {
            let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            out += [a[Int(v >> 18)], a[Int((v >> 12) & 63)], a[Int((v >> 6) & 63)], a[Int(v & 63)]]
            i += 3
        }
        let rest = bytes.count - i
        if rest == 1 {
            let v = UInt32(bytes[i]) << 16
            out += [a[Int(v >> 18)], a[Int((v >> 12) & 63)], UInt8(ascii: "="), UInt8(ascii: "=")]
        } else if rest == 2 {
            let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8
            out += [a[Int(v >> 18)], a[Int((v >> 12) & 63)], a[Int((v >> 6) & 63)], UInt8(ascii: "=")]
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Base64 with CRLF every 76 characters.
    public static func encodeBase64(_ bytes: [UInt8]) -> String {
        let line = encodeBase64Line(bytes)
        var out = ""
        var u = Substring(line)
        while !u.isEmpty {
            out += u.prefix(76) + "\r\n"
            u = u.dropFirst(76)
        }
        return out
    }

    /// Quoted-printable encoding of UTF-8 text with CRLF line breaks, soft breaks keeping every line
    /// within 76 characters, trailing whitespace and a leading "From " / "." protected.
    public static func encodeQuotedPrintable(_ text: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        let equals = UInt8(ascii: "="), dot = UInt8(ascii: "."), capitalF = UInt8(ascii: "F")
        // One pass over the bytes, no allocation per byte: this runs over every outgoing body.
        let bytes = Array(text.replacingLineEndings().utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + bytes.count / 8 + 16)
        /// Whether the line holds "From " at `index` (mbox readers would quote it).
        func fromAt(_ index: Int, lineEnd: Int) -> Bool {
            lineEnd - index >= 5 && bytes[index] == capitalF && bytes[index + 1] == UInt8(ascii: "r") && bytes[index + 2] == UInt8(ascii: "o")
                && bytes[index + 3] == UInt8(ascii: "m") && bytes[index + 4] == UInt8(ascii: " ")
        }
        var lineStart = 0
        while true {
            let lineEnd = bytes[lineStart...].firstIndex(of: lf) ?? bytes.count
            var column = 0
            for index in lineStart..<lineEnd {
                let byte = bytes[index]
                let isLast = index == lineEnd - 1
                var encode = byte == equals || byte >= 0x7F || (byte < 0x20 && byte != tab)
                    || (isLast && isWSP(byte))
                    || (column == 0 && (byte == dot || fromAt(index, lineEnd: lineEnd)))  // a lone "." line would end SMTP DATA
                // Keep room for a soft break "=".
                if column + (encode ? 3 : 1) > (isLast ? 76 : 75) {
                    out.append(equals)
                    out.append(cr)
                    out.append(lf)
                    column = 0
                    if byte == dot || fromAt(index, lineEnd: lineEnd) { encode = true }
                }
                if encode {
                    out.append(equals)
                    out.append(hex[Int(byte >> 4)])
                    out.append(hex[Int(byte & 15)])
                    column += 3
                } else {
                    out.append(byte)
                    column += 1
                }
            }
            guard lineEnd < bytes.count else { break }
            out.append(cr)
            out.append(lf)
            lineStart = lineEnd + 1
        }
        return String(decoding: out, as: UTF8.self)
    }
}

extension String {
    /// Trims ASCII spaces, tabs, CR and LF.
    var trimmingASCIISpaces: String {
        let t = trimASCIIWhitespace(Array(utf8)[...])
        return String(decoding: t, as: UTF8.self)
    }

    /// CRLF and lone CR become LF.
    func replacingLineEndings() -> String {
        guard utf8.contains(cr) else { return self }
        var out: [UInt8] = []
        out.reserveCapacity(utf8.count)
        var prevCR = false
        for b in utf8 {
            if b == cr { out.append(lf); prevCR = true; continue }
            if b == lf && prevCR { prevCR = false; continue }
            prevCR = false
            out.append(b)
        }
        return String(decoding: out, as: UTF8.self)
    }
}

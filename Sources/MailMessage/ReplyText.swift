/// Unicode helpers on UTF-8 bytes with the exact whitespace and word-character definitions of the
/// reference grammar (Python's `str.isspace`, `str.strip` and `re` `\w`).
enum ReplyText {
    /// Length of the whitespace character at `i` (0 if none). Python `str.isspace` semantics.
    @inline(__always)
    static func whitespaceLength<C: RandomAccessCollection>(_ s: C, at i: C.Index) -> Int where C.Element == UInt8, C.Index == Int {
        let b = s[i]
        if b < 0x80 {
            return (b >= 0x09 && b <= 0x0D) || (b >= 0x1C && b <= 0x20) ? 1 : 0
        }
        let n = s.endIndex
        if b == 0xC2, i + 1 < n { return (s[i + 1] == 0x85 || s[i + 1] == 0xA0) ? 2 : 0 }
        if b == 0xE1, i + 2 < n { return (s[i + 1] == 0x9A && s[i + 2] == 0x80) ? 3 : 0 }
        if b == 0xE2, i + 2 < n {
            let c = s[i + 1], d = s[i + 2]
            if c == 0x80 && ((d >= 0x80 && d <= 0x8A) || d == 0xA8 || d == 0xA9 || d == 0xAF) { return 3 }
            if c == 0x81 && d == 0x9F { return 3 }
            return 0
        }
        if b == 0xE3, i + 2 < n { return (s[i + 1] == 0x80 && s[i + 2] == 0x80) ? 3 : 0 }
        return 0
    }

    /// Length of a whitespace character ending just before `end` (0 if none).
    @inline(__always)
    static func trailingWhitespaceLength(_ s: ArraySlice<UInt8>, end: Int) -> Int {
        let lo = s.startIndex
        guard end > lo else { return 0 }
        let b = s[end - 1]
        if b < 0x80 { return (b >= 0x09 && b <= 0x0D) || (b >= 0x1C && b <= 0x20) ? 1 : 0 }
        if end - 2 >= lo, s[end - 2] == 0xC2, b == 0x85 || b == 0xA0 { return 2 }
        if end - 3 >= lo {
            let a = s[end - 3], c = s[end - 2]
            if a == 0xE1, c == 0x9A, b == 0x80 { return 3 }
            if a == 0xE2, c == 0x80, (b >= 0x80 && b <= 0x8A) || b == 0xA8 || b == 0xA9 || b == 0xAF { return 3 }
            if a == 0xE2, c == 0x81, b == 0x9F { return 3 }
            if a == 0xE3, c == 0x80, b == 0x80 { return 3 }
        }
        return 0
    }

    /// Python `str.strip()` on a UTF-8 slice.
    static func strip(_ s: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var lo = s.startIndex
        var hi = s.endIndex
        while lo < hi {
            let w = whitespaceLength(s, at: lo)
            if w == 0 { break }
            lo += w
        }
        while hi > lo {
            let w = trailingWhitespaceLength(s[lo..<hi], end: hi)
            if w == 0 { break }
            hi -= w
        }
        return s[lo..<hi]
    }

    /// True when the slice is empty after `strip()`.
    static func isBlank(_ s: ArraySlice<UInt8>) -> Bool {
        var i = s.startIndex
        while i < s.endIndex {
            let w = whitespaceLength(s, at: i)
            if w == 0 { return false }
            i += w
        }
        return true
    }

    /// Decodes the scalar at `i`, or nil at the end / on invalid UTF-8.
    static func scalar(_ s: ArraySlice<UInt8>, at i: Int) -> (Unicode.Scalar, Int)? {
        guard i < s.endIndex else { return nil }
        var it = s[i...].makeIterator()
        var dec = UTF8()
        switch dec.decode(&it) {
        case .scalarValue(let u): return (u, UTF8.width(u))
        default: return nil
        }
    }

    /// Python `re` `\w` for one scalar: letters, digits/numerics and underscore.
    static func isWordScalar(_ u: Unicode.Scalar) -> Bool {
        if u.value < 0x80 {
            let b = UInt8(u.value)
            return isAlnumASCII(b) || b == UInt8(ascii: "_")
        }
        switch u.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
             .decimalNumber, .letterNumber, .otherNumber:
            return true
        default:
            return u.properties.numericType != nil
        }
    }

    /// Number of Unicode scalars in a slice.
    static func scalarCount(_ s: ArraySlice<UInt8>) -> Int {
        var n = 0
        for b in s where b & 0xC0 != 0x80 { n += 1 }
        return n
    }

    /// Splits UTF-8 text into line ranges on LF, CRLF and lone CR (like `grammar.py`).
    static func lineRanges(_ s: [UInt8]) -> [Range<Int>] {
        var out: [Range<Int>] = []
        var start = 0
        var i = 0
        let n = s.count
        while i < n {
            let b = s[i]
            if b == lf {
                out.append(start..<i); start = i + 1
            } else if b == cr {
                out.append(start..<i)
                if i + 1 < n, s[i + 1] == lf { i += 1 }
                start = i + 1
            }
            i += 1
        }
        out.append(start..<n)
        return out
    }

    /// `" ".join(s.split())` after NFC: collapses runs of whitespace and trims.
    static func normalize(_ s: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(s.count)
        var i = 0
        let slice = s[...]
        var pendingSpace = false
        while i < s.count {
            let w = whitespaceLength(slice, at: i)
            if w > 0 {
                pendingSpace = !out.isEmpty
                i += w
                continue
            }
            if pendingSpace { out.append(space); pendingSpace = false }
            out.append(s[i])
            i += 1
        }
        let str = String(decoding: out, as: UTF8.self)
        return Unicode.nfc(str)
    }
}

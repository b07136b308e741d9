/// RFC 3676 `format=flowed`: joins soft-wrapped lines and removes space-stuffing.
///
/// Departures from the RFC, for safety: an empty line never joins a paragraph (a stray trailing
/// space must not glue a reply to the sign-off below it), and the signature separator `-- ` is
/// always a fixed line.
public enum FormatFlowed {
    /// Unflows UTF-8 text with LF line endings.
    public static func unflow(_ text: [UInt8], delSp: Bool) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(text.count)
        var open = false       // a flowed line is waiting for its continuation
        var openDepth = 0
        var i = 0
        let n = text.count
        var first = true
        while i <= n {
            var e = i
            while e < n, text[e] != lf { e += 1 }
            if e == n && i == n && !first { break }
            first = false
            // Quote depth and content.
            var k = i
            var depth = 0
            while k < e, text[k] == UInt8(ascii: ">") { depth += 1; k += 1 }
            if k < e, text[k] == space { k += 1 } // space-stuffing (or the space after the quote marks)
            let content = text[k..<e]
            let isSig = content.elementsEqual([UInt8(ascii: "-"), UInt8(ascii: "-"), space])
            let isFlowed = !content.isEmpty && content.last == space && !isSig
            let canJoin = open && depth == openDepth && !content.isEmpty && !isSig
            if !canJoin {
                if open { out.append(lf) } // close the previous paragraph
                if depth > 0 {
                    for _ in 0..<depth { out.append(UInt8(ascii: ">")) }
                    out.append(space)
                }
            }
            var piece = content
            if isFlowed && delSp { piece = piece.dropLast() }
            out += piece
            if isFlowed {
                open = true
                openDepth = depth
            } else {
                open = false
                if e < n { out.append(lf) }
            }
            if e >= n { break }
            i = e + 1
        }
        return out
    }
}

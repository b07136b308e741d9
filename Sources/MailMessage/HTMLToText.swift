/// Converts HTML mail to plain text the way the reply grammar expects (`grammar.py`
/// `html_to_text`): block elements end lines, `<br>` forces a line break, `<blockquote>` prefixes its
/// lines with `> `, `<hr>` becomes a line of underscores, `head`/`style`/`script`/`title`/`xml` are
/// dropped, entities are decoded and runs of ASCII whitespace collapse to one space.
///
/// Two robustness additions: a `<body>` tag ends any unclosed `<head>`/`<title>`, and a block whose
/// only content is `&nbsp;` (Outlook's empty paragraph) counts as a blank line.
/// Linear time on any input.
public enum HTMLToText {
    /// Converts an HTML string.
    public static func convert(_ html: String) -> String {
        String(decoding: convert(Array(html.utf8)), as: UTF8.self)
    }

    static let blockTags: Set<String> = [
        "p", "div", "tr", "li", "ul", "ol", "table", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "address",
        "section", "article", "header", "footer", "center", "dl", "dt", "dd",
    ]
    static let skipTags: Set<String> = ["head", "style", "script", "title", "xml"]

    struct State {
        var out: [UInt8] = []
        var lines = 0
        var cur: [UInt8] = []
        var depth = 0
        var skip = 0
        var sawNBSP = false

        mutating func appendLine(_ line: [UInt8], prefixed: Bool) {
            if lines > 0 { out.append(lf) }
            if prefixed { for _ in 0..<depth { out.append(UInt8(ascii: ">")); out.append(space) } }
            out += line
            lines += 1
        }

        mutating func newline(force: Bool) {
            if force || !ReplyText.isBlank(cur[...]) {
                appendLine(cur, prefixed: depth > 0)
            } else if sawNBSP {
                appendLine([], prefixed: depth > 0)
            }
            cur.removeAll(keepingCapacity: true)
            sawNBSP = false
        }
    }

    /// Converts HTML bytes (UTF-8) to text bytes (UTF-8, LF line endings).
    public static func convert(_ s: [UInt8]) -> [UInt8] {
        var st = State()
        st.out.reserveCapacity(s.count / 2)
        let n = s.count
        var i = 0
        var chunkSpace = false     // whitespace collapsing within one text chunk
        var quoteAware = true      // turned off after an unterminated quoted attribute (keeps time linear)
        s.withUnsafeBufferPointer { p in
            while i < n {
                let c = p[i]
                if c == UInt8(ascii: "<"), i + 1 < n {
                    let d = p[i + 1]
                    if d == UInt8(ascii: "!") {
                        chunkSpace = false
                        if i + 3 < n, p[i + 2] == UInt8(ascii: "-"), p[i + 3] == UInt8(ascii: "-") {
                            let endMark: [UInt8] = [UInt8(ascii: "-"), UInt8(ascii: "-"), UInt8(ascii: ">")]
                            let e = endMark.withUnsafeBufferPointer { findBytes(p, $0, from: i + 4, to: n) }
                            i = e.map { $0 + 3 } ?? n
                        } else {
                            i = (findByte(p, UInt8(ascii: ">"), from: i + 2, to: n) ?? (n - 1)) + 1
                        }
                        continue
                    }
                    if d == UInt8(ascii: "?") {
                        chunkSpace = false
                        i = (findByte(p, UInt8(ascii: ">"), from: i + 2, to: n) ?? (n - 1)) + 1
                        continue
                    }
                    let isEnd = d == UInt8(ascii: "/")
                    let nameStart = isEnd ? i + 2 : i + 1
                    if nameStart < n, isASCIILetter(p[nameStart]) {
                        chunkSpace = false
                        var k = nameStart
                        while k < n, !(isWSP(p[k]) || p[k] == lf || p[k] == cr || p[k] == 0x0C || p[k] == UInt8(ascii: "/") || p[k] == UInt8(ascii: ">")) { k += 1 }
                        var nameBytes = Array(p[nameStart..<k])
                        for j in nameBytes.indices { nameBytes[j] = asciiLower(nameBytes[j]) }
                        let name = String(decoding: nameBytes, as: UTF8.self)
                        // Find the end of the tag, honouring quoted attribute values.
                        var e = k
                        var found = false
                        while e < n {
                            let x = p[e]
                            if x == UInt8(ascii: ">") { found = true; break }
                            if quoteAware, x == UInt8(ascii: "\"") || x == UInt8(ascii: "'") {
                                if let q = findByte(p, x, from: e + 1, to: n) { e = q + 1; continue }
                                quoteAware = false
                                e = k
                                continue
                            }
                            e += 1
                        }
                        if !found { i = n; break }
                        i = e + 1
                        if isEnd {
                            handleEnd(name, &st)
                        } else {
                            handleStart(name, &st)
                            if name == "script" || name == "style" {
                                // Raw text until the matching end tag.
                                let close = Array("</\(name)".utf8)
                                var q = i
                                var endAt = n
                                while let m = findByte(p, UInt8(ascii: "<"), from: q, to: n) {
                                    if m + close.count <= n, zip(p[m..<(m + close.count)], close).allSatisfy({ asciiLower($0) == $1 }) { endAt = m; break }
                                    q = m + 1
                                }
                                i = endAt
                            }
                        }
                        continue
                    }
                    if isEnd {
                        // "</" not followed by a letter: a bogus comment up to ">".
                        chunkSpace = false
                        i = (findByte(p, UInt8(ascii: ">"), from: i + 2, to: n) ?? (n - 1)) + 1
                        continue
                    }
                }
                // Text.
                if c == space || c == tab || c == cr || c == lf {
                    if !chunkSpace, st.skip == 0 { st.cur.append(space) }
                    chunkSpace = true
                    i += 1
                    continue
                }
                if c == UInt8(ascii: "&") {
                    let (scalar, len) = Entities.decode(p, at: i)
                    if len > 0 {
                        if st.skip == 0 {
                            if scalar == 0x20 || scalar == 0x09 || scalar == 0x0A || scalar == 0x0D {
                                if !chunkSpace { st.cur.append(space) }
                                chunkSpace = true
                            } else {
                                if scalar == 0xA0 { st.sawNBSP = true }
                                Charset.appendUTF8(scalar, to: &st.cur)
                                chunkSpace = false
                            }
                        }
                        i += len
                        continue
                    }
                }
                if st.skip == 0 {
                    if c == 0xC2, i + 1 < n, p[i + 1] == 0xA0 { st.sawNBSP = true }
                    st.cur.append(c)
                }
                chunkSpace = false
                i += 1
            }
        }
        st.newline(force: false)
        return st.out
    }

    static func isASCIILetter(_ b: UInt8) -> Bool { (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) }

    static func handleStart(_ name: String, _ st: inout State) {
        if skipTags.contains(name) {
            st.skip += 1
        } else if name == "body" {
            st.skip = 0
        } else if name == "br" {
            st.newline(force: true)
        } else if name == "hr" {
            st.newline(force: false)
            st.appendLine(Array(repeating: UInt8(ascii: "_"), count: 32), prefixed: false)
        } else if name == "blockquote" {
            st.newline(force: false)
            st.depth += 1
        } else if blockTags.contains(name) {
            st.newline(force: false)
        }
    }

    static func handleEnd(_ name: String, _ st: inout State) {
        if skipTags.contains(name) {
            st.skip = max(0, st.skip - 1)
        } else if name == "blockquote" {
            st.newline(force: false)
            st.depth = max(0, st.depth - 1)
        } else if blockTags.contains(name) {
            st.newline(force: false)
        }
    }
}

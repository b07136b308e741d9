/// Extracts the newly written part of a reply: the text above the first quote, attribution line,
/// original-message banner, quoted header block or signature (top-posting only).
///
/// The rules of the reference grammar (`grammar.py` `ref_extract`) are applied exactly; on top of
/// them, the same kinds of markers are recognised in other languages and formats (for example
/// `Le … a écrit :`, `W dniu … pisze:`, `*From:* … *Sent:*`, `От: … Отправлено:`, Gmail's
/// verb-less `<date>, Name <addr>:` lines, `Begin forwarded message:`, `Enviado desde mi iPhone`).
/// Extra rules can only cut earlier, so they can make a reply "not understood" but never create a
/// command that the reference grammar would not see.
public enum ReplyExtractor {
    /// The reply text (the lines above the first cut), without a trailing line break.
    public static func extract(_ text: String) -> String {
        String(decoding: extract(utf8: Array(text.utf8)), as: UTF8.self)
    }

    /// Byte version of `extract(_:)`.
    public static func extract(utf8 text: [UInt8]) -> [UInt8] {
        let lines = ReplyText.lineRanges(text)
        let (cut, sharedEnd) = cutIndex(text, lines)
        // A reply and an attribution that share one line ("Thanks On Mon, … wrote:"): the text before
        // the attribution is kept as the last line.
        let shared = sharedEnd.map { lines[cut].lowerBound..<$0 }
        guard cut > 0 || shared != nil else { return [] }
        // The lines before the cut, joined with LF.
        if cut == lines.count, !text.contains(cr) { return text }
        var out: [UInt8] = []
        out.reserveCapacity(cut > 0 ? lines[cut - 1].upperBound : 64)
        for k in 0..<cut {
            if k > 0 { out.append(lf) }
            out += text[lines[k]]
        }
        if let shared {
            if cut > 0 { out.append(lf) }
            out += text[shared]
        }
        return out
    }

    /// When a cut line is a reply followed on the same line by an attribution that opens with one of
    /// the reference's words (`reply On <date>, <name> wrote:`, `reply--- Le … a écrit :`), the end
    /// offset of the reply part; nil otherwise. Only the extended
    /// attribution rule is split this way: lines cut by a reference rule, quotes and signatures are
    /// never kept.
    static func sharedLineReplyEnd(_ l: ArraySlice<UInt8>, next: (Int) -> ArraySlice<UInt8>?) -> Int? {
        guard l.count <= maxMarkerLength, let first = l.first, first != UInt8(ascii: ">"), first != UInt8(ascii: "-") else { return nil }
        let lower = Lowered(l)
        let b = lower.bytes
        // Only a line that is cut as an attribution and nothing else.
        guard !startsWithIntro(b), !isReferenceCut(lower, l, next: next), !isBanner(lower),
              !isHeaderBlock(lower, next: next), !isMobileSignature(lower) else { return nil }
        var p = 1
        while p < b.count {
            let prev = b[p - 1]
            if prev == space || prev == UInt8(ascii: "-"), b[p] != space, b[p] != UInt8(ascii: "-") {
                let rest = Array(b[p...])
                if startsWithReferenceIntro(rest), hasVerbThenColonEnd(rest, verbs: ReplyMarkers.verbs),
                   rest.contains(UInt8(ascii: "@")) || rest.contains(where: isDigitASCII) {
                    // Trim the separator (spaces and dashes) off the reply part.
                    var e = p
                    while e > 0, b[e - 1] == space || b[e - 1] == UInt8(ascii: "-") { e -= 1 }
                    return e > 0 ? l.startIndex + e : nil
                }
            }
            p += 1
        }
        return nil
    }

    /// The index of the first line that ends the reply (== lines.count when none does) and, when that
    /// line starts with reply text followed by an attribution, the end offset of that reply text.
    static func cutIndex(_ text: [UInt8], _ lines: [Range<Int>]) -> (Int, Int?) {
        var stripped: [ArraySlice<UInt8>] = []
        stripped.reserveCapacity(min(lines.count, 64))
        // Stripped lines are computed lazily up to i + 3 (the look-ahead the rules need).
        func line(_ k: Int) -> ArraySlice<UInt8> {
            while stripped.count <= k { stripped.append(ReplyText.strip(text[lines[stripped.count]])) }
            return stripped[k]
        }
        let n = lines.count
        for i in 0..<n {
            let l = line(i)
            let next: (Int) -> ArraySlice<UInt8>? = { k in i + k < n ? line(i + k) : nil }
            if isCut(raw: text[lines[i]], l, next: next) { return (i, sharedLineReplyEnd(l, next: next)) }
        }
        return (n, nil)
    }

    /// Lines longer than this are never markers (keeps the work per line bounded).
    static let maxMarkerLength = 400

    static func isCut(raw: ArraySlice<UInt8>, _ l: ArraySlice<UInt8>, next: (Int) -> ArraySlice<UInt8>?) -> Bool {
        guard let first = l.first else { return false }
        if first == UInt8(ascii: ">") { return true }
        // Signature separator "--" / "-- " at column 0 (raw line).
        if raw.count >= 2, raw[raw.startIndex] == UInt8(ascii: "-"), raw[raw.startIndex + 1] == UInt8(ascii: "-"),
           ReplyText.isBlank(raw[(raw.startIndex + 2)...]) {
            return true
        }
        let lower = Lowered(l)
        // The reference rules, on lines of any length.
        if isReferenceCut(lower, l, next: next) { return true }
        // The extended rules, on lines short enough to be markers.
        guard l.count <= maxMarkerLength else { return false }
        if isAttribution(lower, next: next) { return true }
        if isBanner(lower) { return true }
        if isHeaderBlock(lower, next: next) { return true }
        if isMobileSignature(lower) { return true }
        return false
    }

    /// The cut rules of `grammar.py` `ref_extract`, exactly.
    static func isReferenceCut(_ lower: Lowered, _ l: ArraySlice<UInt8>, next: (Int) -> ArraySlice<UInt8>?) -> Bool {
        let b = lower.bytes
        if startsWithReferenceIntro(b) {
            if hasVerbThenColonEnd(b, verbs: ReplyMarkers.referenceVerbs) { return true }
            if let nx = next(1), ReplyText.scalarCount(nx) < 40,
               hasVerbThenColonEnd(Lowered(nx).bytes, verbs: ReplyMarkers.referenceVerbs) {
                return true
            }
        }
        if isJapaneseDateLine(l) { return true }
        if isReferenceBanner(b) { return true }
        if isUnderscoreLine(l) { return true }
        if startsWithReferenceLabel(b, ReplyMarkers.referenceFromLabels) {
            for k in 1...3 {
                guard let nx = next(k) else { break }
                if startsWithReferenceLabel(Lowered(nx).bytes, ReplyMarkers.referenceSentLabels) { return true }
            }
        }
        // Sent from my \S | Sent from \S+ for | Get Outlook for | Von meinem .* gesendet | iPhoneから送信 | Envoyé de mon
        let sentFrom = Array("sent from ".utf8)
        if b.starts(with: sentFrom) {
            let rest = b[sentFrom.count...]
            if rest.starts(with: Array("my ".utf8)), rest.count > 3, ReplyText.whitespaceLength(b, at: sentFrom.count + 3) == 0 { return true }
            var k = rest.startIndex
            while k < rest.endIndex, ReplyText.whitespaceLength(b, at: k) == 0 { k += 1 }
            if k > rest.startIndex, b[k...].starts(with: Array(" for ".utf8)) { return true }
        }
        let vonMeinem = Array("von meinem ".utf8)
        if b.starts(with: vonMeinem), find(Array(" gesendet".utf8), in: b, from: vonMeinem.count) != nil { return true }
        for p in referenceMobile where b.starts(with: p) { return true }
        return false
    }

    static let referenceMobile = ReplyMarkers.bytes(["get outlook for ", "iphoneから送信", "envoyé de mon "])

    static func startsWithReferenceIntro(_ b: [UInt8]) -> Bool {
        for w in ReplyMarkers.referenceIntro where b.starts(with: w) && b.count > w.count {
            if ReplyText.whitespaceLength(b, at: w.count) > 0 { return true }
        }
        return false
    }

    /// ^-{3,}\s*(Original Message|Ursprüngliche Nachricht|Message d'origine|元のメッセージ)\s*-{3,}\s*$
    static func isReferenceBanner(_ b: [UInt8]) -> Bool {
        var i = 0
        while i < b.count, b[i] == UInt8(ascii: "-") { i += 1 }
        guard i >= 3 else { return false }
        var j = b.count
        while j > i, b[j - 1] == UInt8(ascii: "-") { j -= 1 }
        guard b.count - j >= 3 else { return false }
        let inner = ReplyText.strip(b[i..<j])
        for p in referenceBannerPhrases where inner.elementsEqual(p) { return true }
        return false
    }

    static let referenceBannerPhrases = ReplyMarkers.bytes(["original message", "ursprüngliche nachricht", "message d'origine", "元のメッセージ"])

    /// ^\*?(label)\s*\*?[:：]
    static func startsWithReferenceLabel(_ b: [UInt8], _ labels: [[UInt8]]) -> Bool {
        var i = 0
        if i < b.count, b[i] == UInt8(ascii: "*") { i += 1 }
        for lab in labels {
            guard b.count >= i + lab.count, b[i..<(i + lab.count)].elementsEqual(lab) else { continue }
            var k = i + lab.count
            while k < b.count {
                let w = ReplyText.whitespaceLength(b, at: k)
                if w == 0 { break }
                k += w
            }
            if k < b.count, b[k] == UInt8(ascii: "*") { k += 1 }
            if k < b.count, b[k] == UInt8(ascii: ":") { return true }
            if k + 2 < b.count, b[k] == 0xEF, b[k + 1] == 0xBC, b[k + 2] == 0x9A { return true }
        }
        return false
    }

    // MARK: - Attribution lines

    static func isAttribution(_ l: Lowered, next: (Int) -> ArraySlice<UInt8>?) -> Bool {
        let b = l.bytes
        // Reference: ^(On|Am|Le|El|Il|Op|Em)\s … (wrote|…)\b.*:\s*$, possibly wrapped onto a short line.
        if startsWithIntro(b) {
            if hasVerbThenColonEnd(b, verbs: ReplyMarkers.referenceVerbs) { return true }
            if let nx = next(1), ReplyText.scalarCount(nx) < 40,
               hasVerbThenColonEnd(Lowered(nx).bytes, verbs: ReplyMarkers.referenceVerbs) {
                return true
            }
        }
        // Extended: any language's verb, colon at the end, and something that makes it an attribution
        // (an opening word, an address or a date/time).
        let endsColon = endsWithColon(b)
        if endsColon, hasVerbThenColonEnd(b, verbs: ReplyMarkers.verbs),
           startsWithIntro(b) || b.contains(UInt8(ascii: "@")) || b.contains(where: isDigitASCII) {
            return true
        }
        // Wrapped over up to three lines: an address or date on the first line, the verb and colon on
        // a following short line.
        if !endsColon, b.contains(UInt8(ascii: "@")) || startsWithIntro(b) || startsWithNumericDate(b) {
            var joined = b
            for k in 1...2 {
                guard let nx = next(k), !nx.isEmpty, nx.count < 120 else { break }
                joined.append(space)
                joined += Lowered(nx).bytes
                if endsWithColon(joined) {
                    // A wrapped attribution names a date or an address.
                    guard joined.contains(where: isDigitASCII) else { break }
                    if hasVerbThenColonEnd(joined, verbs: ReplyMarkers.verbs) { return true }
                    if hasAddressAndTime(joined) { return true }
                    break
                }
            }
        }
        // Gmail in many languages writes no verb: "<date>, <time> Name <addr>:".
        if endsColon, hasAddressAndTime(b) { return true }
        // A verb-less "<date> Name <addr>" line directly above a quote block (a blank line may sit
        // between them).
        if startsWithNumericDate(b), hasAddress(b) {
            for k in 1...2 {
                guard let nx = next(k) else { break }
                if nx.isEmpty { continue }
                if nx.first == UInt8(ascii: ">") { return true }
                break
            }
        }
        return false
    }

    /// A numeric date at the start of the line: `yyyy-mm-dd`, `yyyy/m/d`, `d.m.yyyy`, `m/d/yy` …
    static func startsWithNumericDate(_ b: [UInt8]) -> Bool {
        var i = 0
        func digits() -> Int {
            let s = i
            while i < b.count, i - s < 4, isDigitASCII(b[i]) { i += 1 }
            return i - s
        }
        func sep() -> UInt8? {
            guard i < b.count, b[i] == UInt8(ascii: "-") || b[i] == UInt8(ascii: "/") || b[i] == UInt8(ascii: ".") else { return nil }
            i += 1
            return b[i - 1]
        }
        let a = digits()
        guard a >= 1, let s1 = sep() else { return false }
        let m = digits()
        guard m >= 1, m <= 2, let s2 = sep(), s2 == s1 else { return false }
        let c = digits()
        // Either the year first (4 digits, then a 1-2 digit day) or last (2 or 4 digits).
        return (a == 4 && c >= 1 && c <= 2) || (a <= 2 && (c == 2 || c == 4))
    }

    /// A bare or bracketed address `x@y` (letters on both sides of the `@`).
    static func hasAddress(_ b: [UInt8]) -> Bool {
        guard let at = b.firstIndex(of: UInt8(ascii: "@")), at > 0, at + 1 < b.count else { return false }
        return b[at - 1] != space && b[at + 1] != space
    }

    static func startsWithIntro(_ b: [UInt8]) -> Bool {
        for w in ReplyMarkers.referenceIntro where b.starts(with: w) && b.count > w.count {
            if ReplyText.whitespaceLength(b, at: w.count) > 0 { return true }
        }
        for w in introExtended where b.starts(with: w) && b.count > w.count {
            if ReplyText.whitespaceLength(b, at: w.count) > 0 { return true }
        }
        return false
    }

    static let introExtended = ReplyMarkers.bytes(["w dniu", "dnia", "den", "på", "dne", "в", "у", "il giorno", "kl.", "el día", "le jeu.", "在", "於", "于"])

    /// `verb` (followed by a non-word character) somewhere, and the line ends with ':' or '：'.
    static func hasVerbThenColonEnd(_ b: [UInt8], verbs: [[UInt8]]) -> Bool {
        guard endsWithColon(b) else { return false }
        for v in verbs {
            var from = 0
            while let at = find(v, in: b, from: from) {
                let after = at + v.count
                if let (u, _) = ReplyText.scalar(b[...], at: after), ReplyText.isWordScalar(u), isLatinOrCyrillic(v) {
                    from = at + 1
                    continue
                }
                return true
            }
        }
        return false
    }

    static func isLatinOrCyrillic(_ v: [UInt8]) -> Bool {
        // CJK verbs are followed directly by other CJK letters; only alphabetic verbs need a boundary.
        guard let f = v.first else { return true }
        return f < 0xE0
    }

    static func endsWithColon(_ b: [UInt8]) -> Bool {
        var end = b.count
        while end > 0 {
            let w = ReplyText.trailingWhitespaceLength(b[...], end: end)
            if w == 0 { break }
            end -= w
        }
        if end >= 1, b[end - 1] == UInt8(ascii: ":") { return true }
        if end >= 3, b[end - 3] == 0xEF, b[end - 2] == 0xBC, b[end - 1] == 0x9A { return true } // U+FF1A
        return false
    }

    /// An address in angle brackets (or bare `x@y`) and a time `h:mm` or a year.
    static func hasAddressAndTime(_ b: [UInt8]) -> Bool {
        guard let at = b.firstIndex(of: UInt8(ascii: "@")), at > 0, at + 1 < b.count,
              b[at - 1] != space, b[at + 1] != space else { return false }
        var i = 0
        while i + 3 < b.count {
            if isDigitASCII(b[i]), b[i + 1] == UInt8(ascii: ":"), isDigitASCII(b[i + 2]), isDigitASCII(b[i + 3]) { return true }
            i += 1
        }
        return false
    }

    /// Reference Japanese date line: ^\d{4}\s*[/年]\s*\d{1,2}\s*[/月]\s*\d{1,2}.*[:：]\s*$
    static func isJapaneseDateLine(_ l: ArraySlice<UInt8>) -> Bool {
        var i = l.startIndex
        let e = l.endIndex
        func digits(_ minN: Int, _ maxN: Int) -> Bool {
            var c = 0
            while i < e, c < maxN, isDigitASCII(l[i]) { i += 1; c += 1 }
            return c >= minN
        }
        func spaces() { while i < e { let w = ReplyText.whitespaceLength(l, at: i); if w == 0 { break }; i += w } }
        func sep(_ cjk: [UInt8]) -> Bool {
            if i < e, l[i] == UInt8(ascii: "/") { i += 1; return true }
            if i + cjk.count <= e, l[i..<(i + cjk.count)].elementsEqual(cjk) { i += cjk.count; return true }
            return false
        }
        guard digits(4, 4) else { return false }
        spaces()
        guard sep([0xE5, 0xB9, 0xB4]) else { return false } // 年
        spaces()
        guard digits(1, 2) else { return false }
        spaces()
        guard sep([0xE6, 0x9C, 0x88]) else { return false } // 月
        spaces()
        guard digits(1, 2) else { return false }
        return endsWithColon(Array(l[i...]))
    }

    // MARK: - Banners, separators, header blocks, signatures

    static func isBanner(_ l: Lowered) -> Bool {
        let b = l.bytes
        for f in ReplyMarkers.forwardLines where b.elementsEqual(f) { return true }
        // Strip framing dashes / underscores / equals / asterisks / spaces.
        var lo = 0, hi = b.count
        var leadDashes = 0, trailDashes = 0
        while lo < hi, b[lo] == UInt8(ascii: "-") || b[lo] == UInt8(ascii: "=") || b[lo] == UInt8(ascii: "_") || b[lo] == UInt8(ascii: "*") || b[lo] == space {
            if b[lo] == UInt8(ascii: "-") || b[lo] == UInt8(ascii: "=") { leadDashes += 1 }
            lo += 1
        }
        while hi > lo, b[hi - 1] == UInt8(ascii: "-") || b[hi - 1] == UInt8(ascii: "=") || b[hi - 1] == UInt8(ascii: "_") || b[hi - 1] == UInt8(ascii: "*") || b[hi - 1] == space || b[hi - 1] == UInt8(ascii: ":") {
            if b[hi - 1] == UInt8(ascii: "-") || b[hi - 1] == UInt8(ascii: "=") { trailDashes += 1 }
            hi -= 1
        }
        guard hi > lo else { return false }
        let inner = Array(b[lo..<hi])
        if leadDashes >= 2 || trailDashes >= 2 {
            for p in ReplyMarkers.bannerPhrases where find(p, in: inner, from: 0) != nil { return true }
            // Any dash-framed caption ("----- Forwarded by X on 01/02 -----").
            if leadDashes >= 3 && trailDashes >= 3 && inner.contains(where: { isAlnumASCII($0) || $0 >= 0x80 }) { return true }
        } else {
            // The bare phrase on a line of its own ("Original Message", "Ursprüngliche Nachricht").
            for p in ReplyMarkers.bannerPhrases where inner.elementsEqual(p) { return true }
        }
        return false
    }

    /// ^_{10,}\s*$
    static func isUnderscoreLine(_ l: ArraySlice<UInt8>) -> Bool {
        guard l.count >= 10 else { return false }
        return l.allSatisfy { $0 == UInt8(ascii: "_") }
    }

    /// Matches `\*{0,2} label \s* \*{0,2} [:：]` at the start of a lowercased line.
    static func startsWithLabel(_ b: [UInt8], _ labels: [[UInt8]]) -> Bool {
        var i = 0
        while i < b.count, i < 2, b[i] == UInt8(ascii: "*") { i += 1 }
        for lab in labels {
            guard b.count >= i + lab.count, b[i..<(i + lab.count)].elementsEqual(lab) else { continue }
            var k = i + lab.count
            while k < b.count {
                let w = ReplyText.whitespaceLength(b, at: k)
                if w > 0 { k += w } else if b[k] == UInt8(ascii: "*") { k += 1 } else { break }
            }
            if k < b.count, b[k] == UInt8(ascii: ":") { return true }
            if k + 2 < b.count, b[k] == 0xEF, b[k + 1] == 0xBC, b[k + 2] == 0x9A { return true }
        }
        return false
    }

    /// A quoted header block: a "From:" line followed within three lines by another header label,
    /// or a "Date:"/"Sent:" line directly followed by a "From:"/"To:" line.
    static func isHeaderBlock(_ l: Lowered, next: (Int) -> ArraySlice<UInt8>?) -> Bool {
        if startsWithLabel(l.bytes, ReplyMarkers.fromLabels) {
            for k in 1...3 {
                guard let nx = next(k) else { break }
                if startsWithLabel(Lowered(nx).bytes, ReplyMarkers.blockLabels) { return true }
            }
            return false
        }
        if startsWithLabel(l.bytes, ReplyMarkers.dateLabels), hasLabelValue(l.bytes), let nx = next(1) {
            let nb = Lowered(nx).bytes
            return startsWithLabel(nb, ReplyMarkers.fromLabels) || startsWithLabel(nb, ReplyMarkers.toLabels)
        }
        return false
    }

    /// True when a `label:` line has a value containing a digit (a date) after its colon.
    static func hasLabelValue(_ b: [UInt8]) -> Bool {
        guard let colon = b.firstIndex(where: { $0 == UInt8(ascii: ":") || $0 == 0x9A }) else { return false }
        return b[(colon + 1)...].contains(where: isDigitASCII)
    }

    static func isMobileSignature(_ l: Lowered) -> Bool {
        let b = l.bytes
        guard b.count < 100 else { return false }
        for p in ReplyMarkers.mobilePrefixes where b.starts(with: p) { return true }
        return false
    }

    static func find(_ needle: [UInt8], in hay: [UInt8], from: Int) -> Int? {
        guard !needle.isEmpty, hay.count - from >= needle.count else { return nil }
        let first = needle[0]
        var i = from
        let last = hay.count - needle.count
        while i <= last {
            if hay[i] == first, hay[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }
}

/// A stripped line with ASCII letters lowercased (other bytes unchanged).
/// Besides ASCII, Latin-1 capitals (U+00C0...U+00DE) and Cyrillic capitals (U+0400...U+042F) are
/// lowercased; both keep their UTF-8 length.
struct Lowered {
    let bytes: [UInt8]
    init(_ s: ArraySlice<UInt8>) {
        var b = Array(s)
        var i = 0
        let n = b.count
        while i < n {
            let c = b[i]
            if c >= 0x41 && c <= 0x5A {
                b[i] = c | 0x20
            } else if c == 0xC3, i + 1 < n, b[i + 1] >= 0x80, b[i + 1] <= 0x9E, b[i + 1] != 0x97 {
                b[i + 1] += 0x20
                i += 1
            } else if c == 0xD0, i + 1 < n {
                let d = b[i + 1]
                if d >= 0x90 && d <= 0x9F { b[i + 1] = d + 0x20 }                       // А-П -> а-п
                else if d >= 0xA0 && d <= 0xAF { b[i] = 0xD1; b[i + 1] = d - 0x20 }     // Р-Я -> р-я
                else if d >= 0x80 && d <= 0x8F { b[i] = 0xD1; b[i + 1] = d + 0x10 }     // Ѐ-Џ -> ѐ-џ
                i += 1
            }
            i += 1
        }
        bytes = b
    }
}

/// A reviewer's command, as the reply grammar reads it.
public enum ReplyCommand: String, Sendable, Hashable, Codable, CaseIterable {
    case approve
    case deny
    case none
}

/// Why a reply carries no command.
public enum NoCommandReason: Sendable, Hashable, CustomStringConvertible {
    /// The message is automated (auto-reply, bounce, bulk, our own mail...).
    case automated(AutomatedMailReason)
    /// The message has no text/plain or text/html body.
    case noBody
    /// The reply text (above the quote) is empty.
    case noReplyText
    /// The first non-empty line of the reply text does not start with a command word.
    case notACommand
    /// The first line asks rather than decides: its command word is followed by a question mark,
    /// or the line ends with one (REPLY-6).
    case question
    /// The first line names an approve word and a deny word as alternatives (REPLY-6).
    case bothCommands

    public var description: String {
        switch self {
        case .automated(let r): return "automated: \(r)"
        case .noBody: return "no text body"
        case .noReplyText: return "no reply text above the quoted message"
        case .notACommand: return "first line is not a command"
        case .question: return "first line is a question"
        case .bothCommands: return "first line names both approve and deny"
        }
    }
}

/// The command grammar: the first non-empty line of the reply text, trimmed, must match
/// `^(approve|approved|deny|denied|reject|rejected)(?!\w)[\s.,:;!\-–—]*(.*)$` case-insensitively.
/// The comment is the rest of that line plus the following non-blank lines, whitespace-collapsed
/// and NFC-normalised.
///
/// Stricter than the bare pattern on purpose (REPLY-6): when in doubt a reply does not decide. A
/// first line is never a decision when its command word is followed by a question mark
/// (`Approve? Let me check`), when it ends with one (`approve or deny?`), or when it names an approve
/// word and a deny word as alternatives (`approve or deny`, `deny / approve`, `rejected, or approve`);
/// the other word inside a comment (`Deny: approved for 2 seats only`) is only a comment.
public enum CommandGrammar {
    /// Decides a reply text. Returns the command and its comment (nil for `.none`).
    public static func decide(_ replyText: String) -> (command: ReplyCommand, comment: String?) {
        decide(utf8: Array(replyText.utf8))
    }

    static let words: [(word: [UInt8], command: ReplyCommand)] = [
        (Array("approved".utf8), .approve), (Array("approve".utf8), .approve),
        (Array("denied".utf8), .deny), (Array("deny".utf8), .deny),
        (Array("rejected".utf8), .deny), (Array("reject".utf8), .deny),
    ]

    /// Byte version of `decide(_:)`.
    public static func decide(utf8 text: [UInt8]) -> (command: ReplyCommand, comment: String?) {
        let reading = read(utf8: text)
        return (reading.command, reading.comment)
    }

    /// The command, its comment, the granted duration, and why there is no command.
    static func read(utf8 text: [UInt8]) -> (command: ReplyCommand, comment: String?, reason: NoCommandReason?, grantSeconds: Int?) {
        let lines = ReplyText.lineRanges(text)
        var i = 0
        while i < lines.count, ReplyText.isBlank(text[lines[i]]) { i += 1 }
        guard i < lines.count else { return (.none, nil, .noReplyText, nil) }
        let l = ReplyText.strip(text[lines[i]])
        guard let (command, wordEnd) = matchWord(l) else { return (.none, nil, .notACommand, nil) }
        if isQuestion(l, afterWord: wordEnd) { return (.none, nil, .question, nil) }
        if namesOtherCommand(l, command: command, from: wordEnd) { return (.none, nil, .bothCommands, nil) }
        // An approval may name a shorter grant right after the word: `approve 1h`, `approve for 2 hours`.
        var grantSeconds: Int?
        var k = wordEnd
        if command == .approve, let (seconds, end) = grantDuration(l, from: wordEnd) {
            grantSeconds = seconds
            k = end
        }
        // Skip [\s.,:;!\-–—]*
        while k < l.endIndex {
            let w = ReplyText.whitespaceLength(l, at: k)
            if w > 0 { k += w; continue }
            let b = l[k]
            if b == UInt8(ascii: ".") || b == UInt8(ascii: ",") || b == UInt8(ascii: ":") || b == UInt8(ascii: ";")
                || b == UInt8(ascii: "!") || b == UInt8(ascii: "-") {
                k += 1
                continue
            }
            if isDash(l, at: k) { k += 3; continue }
            break
        }
        var comment = Array(l[k...])
        for j in (i + 1)..<lines.count {
            let line = text[lines[j]]
            if ReplyText.isBlank(line) { break }
            comment.append(space)
            comment += line
        }
        return (command, ReplyText.normalize(comment), nil, grantSeconds)
    }

    static let durationUnits: [(names: [String], seconds: Int)] = [
        (["m", "min", "mins", "minute", "minutes"], 60),
        (["h", "hr", "hrs", "hour", "hours"], 3_600),
        (["d", "day", "days"], 86_400),
    ]

    /// A duration after whitespace at `start`: an optional `for`, then one or more `NUMBER UNIT`
    /// groups (`1h`, `1h30m`, `2 hours`, `90 minutes`), ending at a word boundary. Returns the
    /// seconds and where the duration ends, or nil when none stands there.
    static func grantDuration(_ l: ArraySlice<UInt8>, from start: Int) -> (Int, Int)? {
        var k = start
        func skipSpaces() -> Int {
            let from = k
            while k < l.endIndex, ReplyText.whitespaceLength(l, at: k) > 0 { k += ReplyText.whitespaceLength(l, at: k) }
            return k - from
        }
        guard skipSpaces() > 0 else { return nil }
        let forWord = Array("for".utf8)
        if l.endIndex - k > 3, zip(l[k..<(k + 3)], forWord).allSatisfy({ asciiLower($0) == $1 }), ReplyText.whitespaceLength(l, at: k + 3) > 0 {
            k += 3
            _ = skipSpaces()
        }
        var total = 0
        var groups = 0
        while k < l.endIndex, (48...57).contains(l[k]) {
            var number = 0
            var digits = 0
            while k < l.endIndex, (48...57).contains(l[k]), digits < 6 {
                number = number * 10 + Int(l[k] - 48)
                k += 1
                digits += 1
            }
            if k < l.endIndex, (48...57).contains(l[k]) { return nil }
            if k < l.endIndex, l[k] == UInt8(ascii: " ") { k += 1 }
            let unitStart = k
            while k < l.endIndex, (65...90).contains(l[k]) || (97...122).contains(l[k]) { k += 1 }
            let unit = String(decoding: l[unitStart..<k].map(asciiLower), as: UTF8.self)
            guard let seconds = durationUnits.first(where: { $0.names.contains(unit) })?.seconds else { return nil }
            total += number * seconds
            groups += 1
            // `1h30m` continues; `1h 30m` does too.
            let mark = k
            if k < l.endIndex, l[k] == UInt8(ascii: " "), k + 1 < l.endIndex, (48...57).contains(l[k + 1]) { k += 1 }
            if !(k < l.endIndex && (48...57).contains(l[k])) { k = mark; break }
        }
        guard groups > 0, total > 0 else { return nil }
        // The duration ends at a word boundary.
        if let (u, _) = ReplyText.scalar(l, at: k), ReplyText.isWordScalar(u) { return nil }
        return (total, k)
    }

    /// U+2013 or U+2014 at `k`.
    static func isDash(_ l: ArraySlice<UInt8>, at k: Int) -> Bool {
        l[k] == 0xE2 && k + 2 < l.endIndex && l[k + 1] == 0x80 && (l[k + 2] == 0x93 || l[k + 2] == 0x94)
    }

    /// `?` or the full-width `？` (U+FF1F) at `k`; returns its length.
    static func questionMarkLength(_ l: ArraySlice<UInt8>, at k: Int) -> Int {
        if l[k] == UInt8(ascii: "?") { return 1 }
        if l[k] == 0xEF, k + 2 < l.endIndex, l[k + 1] == 0xBC, l[k + 2] == 0x9F { return 3 }
        return 0
    }

    /// The command word followed (after spaces) by a question mark, or a line ending with one.
    static func isQuestion(_ l: ArraySlice<UInt8>, afterWord wordEnd: Int) -> Bool {
        var k = wordEnd
        while k < l.endIndex, ReplyText.whitespaceLength(l, at: k) > 0 { k += ReplyText.whitespaceLength(l, at: k) }
        if k < l.endIndex, questionMarkLength(l, at: k) > 0 { return true }
        // The stripped line's last character.
        if let last = l.indices.last, l[last] == UInt8(ascii: "?") { return true }
        if l.count >= 3, questionMarkLength(l, at: l.endIndex - 3) == 3 { return true }
        return false
    }

    /// Whether the line offers the other command as an alternative: a command word of the other kind
    /// behind a connective (`or`, `and`, `nor`, `vs`, `/`, `&`), before the first separator
    /// (`approve or deny`, `deny / approve`) or right after it (`rejected, or approve`). A command
    /// word of the other kind in a comment (`Deny: approved for 2 seats only`) is part of the comment.
    static func namesOtherCommand(_ l: ArraySlice<UInt8>, command: ReplyCommand, from wordEnd: Int) -> Bool {
        var k = wordEnd
        while k < l.endIndex {
            if isSeparator(l, at: k) {
                // Skip the separators and spaces, then look for `or|and|nor|vs|versus|/|&` + the other word.
                while k < l.endIndex, isSeparator(l, at: k) || ReplyText.whitespaceLength(l, at: k) > 0 {
                    k += isDash(l, at: k) ? 3 : max(1, ReplyText.whitespaceLength(l, at: k))
                }
                guard let connective = connectiveLength(l, at: k) else { return false }
                k += connective
                while k < l.endIndex, ReplyText.whitespaceLength(l, at: k) > 0 { k += ReplyText.whitespaceLength(l, at: k) }
                guard k < l.endIndex, let (other, _) = matchWord(l[k...]) else { return false }
                return other != command
            }
            // A connective before the first separator (`approve or deny`, `deny / approve`).
            if k > wordEnd, isWordStart(l, at: k) || l[k] == UInt8(ascii: "/") || l[k] == UInt8(ascii: "&"),
               let connective = connectiveLength(l, at: k) {
                var j = k + connective
                while j < l.endIndex, ReplyText.whitespaceLength(l, at: j) > 0 { j += ReplyText.whitespaceLength(l, at: j) }
                if j < l.endIndex, let (other, _) = matchWord(l[j...]), other != command { return true }
            }
            k += 1
        }
        return false
    }

    static func isSeparator(_ l: ArraySlice<UInt8>, at k: Int) -> Bool {
        let b = l[k]
        return b == UInt8(ascii: ".") || b == UInt8(ascii: ",") || b == UInt8(ascii: ":") || b == UInt8(ascii: ";")
            || b == UInt8(ascii: "!") || b == UInt8(ascii: "-") || isDash(l, at: k)
    }

    /// An ASCII word starts at `k` (the byte before is not a letter, digit or `_`).
    static func isWordStart(_ l: ArraySlice<UInt8>, at k: Int) -> Bool {
        guard k > l.startIndex else { return true }
        let previous = l[k - 1]
        return previous < 0x80 && !(previous == UInt8(ascii: "_") || (48...57).contains(previous)
            || (65...90).contains(previous) || (97...122).contains(previous))
    }

    static let connectives: [[UInt8]] = ["or", "and", "nor", "versus", "vs", "/", "&"].map { Array($0.utf8) }

    /// The length of a connective word (or `/`, `&`) at `k`, if one stands there whole.
    static func connectiveLength(_ l: ArraySlice<UInt8>, at k: Int) -> Int? {
        for word in connectives where l.count - (k - l.startIndex) >= word.count {
            guard zip(l[k..<(k + word.count)], word).allSatisfy({ asciiLower($0) == $1 }) else { continue }
            let end = k + word.count
            if word.count == 1 { return 1 }
            if end == l.endIndex || ReplyText.whitespaceLength(l, at: end) > 0 || l[end] == UInt8(ascii: "/") { return word.count }
        }
        return nil
    }

    /// The command word at the start of a trimmed line, not followed by a word character.
    static func matchWord(_ l: ArraySlice<UInt8>) -> (ReplyCommand, Int)? {
        for (w, cmd) in words {
            guard l.count >= w.count else { continue }
            var ok = true
            for (a, b) in zip(l.prefix(w.count), w) where asciiLower(a) != b { ok = false; break }
            guard ok else { continue }
            let end = l.startIndex + w.count
            if let (u, _) = ReplyText.scalar(l, at: end), ReplyText.isWordScalar(u) { continue }
            return (cmd, end)
        }
        return nil
    }
}

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

    public var description: String {
        switch self {
        case .automated(let r): return "automated: \(r)"
        case .noBody: return "no text body"
        case .noReplyText: return "no reply text above the quoted message"
        case .notACommand: return "first line is not a command"
        }
    }
}

/// The command grammar of section 6 (`grammar.py` `decide`): the first non-empty line of the reply
/// text, trimmed, must match `^(approve|approved|deny|denied|reject|rejected)(?!\w)[\s.,:;!\-–—]*(.*)$`
/// case-insensitively. The comment is the rest of that line plus the following non-blank lines,
/// whitespace-collapsed and NFC-normalised.
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
        let lines = ReplyText.lineRanges(text)
        var i = 0
        while i < lines.count, ReplyText.isBlank(text[lines[i]]) { i += 1 }
        guard i < lines.count else { return (.none, nil) }
        let l = ReplyText.strip(text[lines[i]])
        guard let (command, wordEnd) = matchWord(l) else { return (.none, nil) }
        // Skip [\s.,:;!\-–—]*
        var k = wordEnd
        while k < l.endIndex {
            let w = ReplyText.whitespaceLength(l, at: k)
            if w > 0 { k += w; continue }
            let b = l[k]
            if b == UInt8(ascii: ".") || b == UInt8(ascii: ",") || b == UInt8(ascii: ":") || b == UInt8(ascii: ";")
                || b == UInt8(ascii: "!") || b == UInt8(ascii: "-") {
                k += 1
                continue
            }
            // U+2013 / U+2014
            if b == 0xE2, k + 2 < l.endIndex, l[k + 1] == 0x80, l[k + 2] == 0x93 || l[k + 2] == 0x94 { k += 3; continue }
            break
        }
        var comment = Array(l[k...])
        for j in (i + 1)..<lines.count {
            let line = text[lines[j]]
            if ReplyText.isBlank(line) { break }
            comment.append(space)
            comment += line
        }
        return (command, ReplyText.normalize(comment))
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

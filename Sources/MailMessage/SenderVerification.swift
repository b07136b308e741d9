/// Why the author of a message cannot be determined without guessing (REPLY-5, TEST-2).
public struct SenderRejection: Error, Sendable, Hashable, CustomStringConvertible {
    /// The reason.
    public enum Kind: String, Sendable, Hashable {
        case missingFrom
        case multipleFromFields
        case multipleMailboxes
        case group
        case unparseable
        case comment
        case encodedWordInAddress
        case quotedLocalPart
        case domainLiteral
        case sourceRoute
        case multipleSenderFields
        case senderDiffersFromFrom
    }

    /// The reason.
    public let kind: Kind
    /// The field concerned (`From` or `Sender`).
    public let field: String
    /// The field value as received, for the audit log.
    public let value: String
    /// The parse error, when `kind == .unparseable`.
    public let parseError: AddressParseError?

    public var description: String {
        var s = "\(kind.rawValue) in \(field): \(value.debugDescription)"
        if let e = parseError { s += " (\(e))" }
        return s
    }
}

/// Determines who sent a reply, rejecting rather than guessing (REPLY-5, TEST-2).
public enum SenderVerification {
    /// Returns the single author mailbox of a message, or why there is none:
    /// exactly one `From` field holding exactly one mailbox (no group), with no comments anywhere in
    /// the field, no encoded words inside the addr-spec, no quoted local part, domain literal or
    /// source route; and, if a `Sender` field is present, exactly one that names the same address
    /// (compared case-insensitively).
    public static func authenticatedAuthor(of headers: HeaderFields) -> Result<Mailbox, SenderRejection> {
        let froms = headers.all(named: "From")
        guard let from = froms.first else {
            return .failure(SenderRejection(kind: .missingFrom, field: "From", value: "", parseError: nil))
        }
        guard froms.count == 1 else {
            return .failure(SenderRejection(kind: .multipleFromFields, field: "From", value: froms.map(\.value).joined(separator: " | "), parseError: nil))
        }
        let author: Mailbox
        switch strictMailbox(from, field: "From") {
        case .success(let m): author = m
        case .failure(let e): return .failure(e)
        }
        let senders = headers.all(named: "Sender")
        if senders.count > 1 {
            return .failure(SenderRejection(kind: .multipleSenderFields, field: "Sender", value: senders.map(\.value).joined(separator: " | "), parseError: nil))
        }
        if let sender = senders.first {
            switch strictMailbox(sender, field: "Sender") {
            case .success(let s):
                if s.normalizedAddress != author.normalizedAddress {
                    return .failure(SenderRejection(kind: .senderDiffersFromFrom, field: "Sender", value: sender.value, parseError: nil))
                }
            case .failure(let e): return .failure(e)
            }
        }
        return .success(author)
    }

    /// Convenience for a parsed message.
    public static func authenticatedAuthor(of message: MailMessage) -> Result<Mailbox, SenderRejection> {
        authenticatedAuthor(of: message.headers)
    }

    static func strictMailbox(_ field: HeaderField, field name: String) -> Result<Mailbox, SenderRejection> {
        let raw = HeaderField.unfold(field.rawValue)
        let value = field.value
        func reject(_ k: SenderRejection.Kind, _ e: AddressParseError? = nil) -> Result<Mailbox, SenderRejection> {
            .failure(SenderRejection(kind: k, field: name, value: value, parseError: e))
        }
        guard Charset.utf8Valid(raw) else { return reject(.unparseable) }
        let parsed: (list: [AddressParser.Detailed], anyComment: Bool)
        do {
            parsed = try AddressParser.parseWithComments(raw)
        } catch {
            return reject(.unparseable, error)
        }
        guard parsed.list.count == 1 else { return reject(.multipleMailboxes) }
        let d = parsed.list[0]
        guard case .mailbox(let m) = d.address else { return reject(.group) }
        guard let f = d.features.first else { return reject(.unparseable) }
        if parsed.anyComment || f.comment { return reject(.comment) }
        if f.encodedWordInAddrSpec { return reject(.encodedWordInAddress) }
        if f.quotedLocalPart || f.obsoleteLocalPart { return reject(.quotedLocalPart) }
        if f.domainLiteral { return reject(.domainLiteral) }
        if f.route { return reject(.sourceRoute) }
        return .success(m)
    }
}

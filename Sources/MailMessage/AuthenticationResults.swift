/// One `Authentication-Results` header field (RFC 8601): who evaluated the message and what each
/// method concluded.
public struct AuthenticationResults: Sendable, Hashable {
    /// One method's result, e.g. `dkim=pass header.d=example.com`.
    public struct Result: Sendable, Hashable {
        /// The method, lowercased (`dkim`, `spf`, `dmarc`, `arc`...).
        public var method: String
        /// The result, lowercased (`pass`, `fail`, `none`, `neutral`...).
        public var result: String
        /// Properties by `ptype.property`, lowercased keys (`header.d`, `header.from`, `smtp.mailfrom`).
        public var properties: [String: String]
    }

    /// The authserv-id: the host that evaluated the message (lowercased).
    public var authservID: String
    public var results: [Result]

    /// Parses a header field value; `nil` when it has no authserv-id.
    public init?(_ value: String) {
        let statements = Self.split(Self.removingComments(value))
        guard let first = statements.first else { return nil }
        let idTokens = first.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" })
        guard let id = idTokens.first, !id.isEmpty, !id.contains("=") else { return nil }
        authservID = Self.unquote(String(id)).lowercased()
        results = statements.dropFirst().compactMap(Self.parseResult)
    }

    /// The results of `method`.
    public func results(for method: String) -> [Result] {
        results.filter { $0.method == method.lowercased() }
    }

    static func parseResult(_ statement: Substring) -> Result? {
        let tokens = statement.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" })
        guard let head = tokens.first, let equals = head.firstIndex(of: "=") else { return nil }
        var method = head[..<equals].lowercased()
        if let slash = method.firstIndex(of: "/") { method = String(method[..<slash]) }
        let result = unquote(String(head[head.index(after: equals)...])).lowercased()
        guard !method.isEmpty, !result.isEmpty, method != "none" else { return nil }
        var properties: [String: String] = [:]
        for token in tokens.dropFirst() {
            guard let eq = token.firstIndex(of: "=") else { continue }
            let key = token[..<eq].lowercased()
            properties[key] = unquote(String(token[token.index(after: eq)...]))
        }
        return Result(method: method, result: result, properties: properties)
    }

    /// Removes RFC 5322 comments (nested parentheses, with quoted-pairs), outside quoted strings.
    static func removingComments(_ value: String) -> String {
        var out = ""
        var depth = 0
        var inQuote = false
        var escaped = false
        for character in value {
            if escaped {
                escaped = false
                if depth == 0 { out.append(character) }
                continue
            }
            switch character {
            case "\\":
                escaped = true
                if depth == 0 { out.append(character) }
            case "\"" where depth == 0:
                inQuote.toggle()
                out.append(character)
            case "(" where !inQuote:
                depth += 1
            case ")" where !inQuote && depth > 0:
                depth -= 1
                if depth == 0 { out.append(" ") }
            default:
                if depth == 0 { out.append(character) }
            }
        }
        return out
    }

    /// Splits on `;` outside quoted strings, trimming whitespace and dropping empty statements.
    static func split(_ value: String) -> [Substring] {
        var parts: [Substring] = []
        var start = value.startIndex
        var inQuote = false
        var index = value.startIndex
        while index < value.endIndex {
            let character = value[index]
            if character == "\"" { inQuote.toggle() }
            if character == ";" && !inQuote {
                parts.append(value[start..<index])
                start = value.index(after: index)
            }
            index = value.index(after: index)
        }
        parts.append(value[start...])
        return parts.map { $0.trimmingWhitespace() }.filter { !$0.isEmpty }
    }

    static func unquote(_ text: String) -> String {
        guard text.count >= 2, text.hasPrefix("\""), text.hasSuffix("\"") else { return text }
        return String(text.dropFirst().dropLast())
    }
}

/// Whether a reply's sender is authenticated by the receiving mail server the gateway trusts (REPLY-3).
public enum SenderAuthentication {
    /// The verdict on a message.
    public enum Verdict: Sendable, Hashable, CustomStringConvertible {
        /// The trusted server reports `dmarc=pass`, or `dkim=pass` for a domain aligned with `From`.
        case pass(String)
        /// It does not, for the reason given.
        case fail(String)

        public var isPass: Bool { if case .pass = self { true } else { false } }

        public var description: String {
            switch self {
            case .pass(let how): "pass (\(how))"
            case .fail(let why): "fail (\(why))"
            }
        }
    }

    /// Evaluates the `Authentication-Results` field the receiving server wrote (REPLY-3).
    ///
    /// A sender can write any field into a message, including one that names our authserv-id, so a
    /// field counts only where the receiving server puts its own: it must be the **topmost**
    /// `Authentication-Results` of the message, carry the trusted authserv-id, and sit **directly
    /// above the topmost `Received:` field of an SMTP hop** (`with SMTP`, `ESMTP`, `ESMTPS`...): the
    /// stamp the server added when it accepted the message. Above it, only the local delivery's trace
    /// fields (an `LMTP` `Received:`, `Return-Path`, `Delivered-To`, `X-Original-To`) may follow.
    /// When the receiving server adds no field of its own (misconfigured, a milter failing open),
    /// a forged field is below that `Received:` and is refused.
    /// - Parameters:
    ///   - fromDomain: the domain of the single `From` address, for DKIM alignment.
    public static func evaluate(_ headers: HeaderFields, trustedAuthservID: String, fromDomain: String) -> Verdict {
        let field: AuthenticationResults
        switch receivingServerStamp(headers, trustedAuthservID: trustedAuthservID) {
        case .success(let stamp): field = stamp
        case .failure(let problem): return .fail(problem.reason)
        }
        let from = fromDomain.lowercased()
        let dmarc = field.results(for: "dmarc")
        if let pass = dmarc.first(where: { $0.result == "pass" }) {
            if let headerFrom = pass.properties["header.from"], headerFrom.lowercased() != from {
                return .fail("dmarc=pass for \(headerFrom), not \(from)")
            }
            return .pass("dmarc=pass")
        }
        if let other = dmarc.first(where: { $0.result != "none" }) {
            return .fail("dmarc=\(other.result)")
        }
        for dkim in field.results(for: "dkim") where dkim.result == "pass" {
            let signer = dkim.properties["header.d"] ?? dkim.properties["header.i"].map { String($0.split(separator: "@").last ?? "") } ?? ""
            if aligned(signer.lowercased(), from) { return .pass("dkim=pass header.d=\(signer)") }
        }
        let summary = field.results.map { "\($0.method)=\($0.result)" }.joined(separator: " ")
        return .fail(summary.isEmpty ? "no results" : summary)
    }

    /// Why a message carries no stamp of the receiving server.
    public struct MissingStamp: Error, Sendable, Hashable {
        public var reason: String
    }

    /// The `Authentication-Results` field the receiving server wrote: the topmost one, with the
    /// trusted authserv-id, directly above the topmost SMTP `Received:` (see ``evaluate(_:trustedAuthservID:fromDomain:)``).
    public static func receivingServerStamp(_ headers: HeaderFields, trustedAuthservID: String) -> Result<AuthenticationResults, MissingStamp> {
        let trusted = trustedAuthservID.lowercased()
        let fields = headers.fields
        guard let topmost = fields.firstIndex(where: { $0.hasName("Authentication-Results") }) else {
            return .failure(MissingStamp(reason: "no Authentication-Results from \(trusted)"))
        }
        guard let field = AuthenticationResults(fields[topmost].value), field.authservID == trusted else {
            return .failure(MissingStamp(reason: "the topmost Authentication-Results is not from \(trusted)"))
        }
        // Above the stamp: only the local delivery's trace fields.
        for index in fields.indices where index < topmost {
            let name = fields[index].name.lowercased()
            if name == "received", !isLocalDelivery(fields[index].value) {
                return .failure(MissingStamp(reason: "an SMTP Received: is above the Authentication-Results of \(trusted): it is not the receiving server's stamp"))
            }
            guard ["received", "return-path", "delivered-to", "x-original-to"].contains(name) else {
                return .failure(MissingStamp(reason: "\(fields[index].name) is above the Authentication-Results of \(trusted): it is not the receiving server's stamp"))
            }
        }
        guard topmost + 1 < fields.count, fields[topmost + 1].hasName("Received"), isSMTPHop(fields[topmost + 1].value) else {
            return .failure(MissingStamp(reason: "the Authentication-Results of \(trusted) is not directly above the receiving server's Received: stamp"))
        }
        return .success(field)
    }

    /// The protocol of a `Received:` field's `with` clause, lowercased.
    static func receivedProtocol(_ value: String) -> String? {
        let separators: Set<Character> = [" ", "\t", "\r", "\n", ";"]
        let words = AuthenticationResults.removingComments(value).split(whereSeparator: { separators.contains($0) })
        guard let with = words.firstIndex(where: { $0.lowercased() == "with" }), with + 1 < words.count else { return nil }
        return words[with + 1].lowercased()
    }

    /// A `Received:` of an SMTP hop (`with SMTP`, `ESMTP`, `ESMTPS`, `ESMTPSA`, `UTF8SMTPS`...).
    static func isSMTPHop(_ value: String) -> Bool {
        guard let proto = receivedProtocol(value) else { return false }
        return proto.hasSuffix("smtp") || proto.hasSuffix("smtps") || proto.hasSuffix("smtpa") || proto.hasSuffix("smtpsa")
    }

    /// A `Received:` of the local delivery into the mailbox (`with LMTP`, `with local`).
    static func isLocalDelivery(_ value: String) -> Bool {
        guard let proto = receivedProtocol(value) else { return false }
        return proto.hasPrefix("lmtp") || proto == "local"
    }

    /// Relaxed alignment: the same domain, or one a subdomain of the other, where the parent has at
    /// least two labels (a signature by a bare top-level domain never aligns).
    static func aligned(_ signer: String, _ from: String) -> Bool {
        guard !signer.isEmpty, !from.isEmpty else { return false }
        if signer == from { return true }
        if signer.hasSuffix("." + from) { return from.contains(".") }
        if from.hasSuffix("." + signer) { return signer.contains(".") }
        return false
    }
}

extension Substring {
    fileprivate func trimmingWhitespace() -> Substring {
        var slice = self
        while let first = slice.first, first == " " || first == "\t" || first == "\r" || first == "\n" { slice = slice.dropFirst() }
        while let last = slice.last, last == " " || last == "\t" || last == "\r" || last == "\n" { slice = slice.dropLast() }
        return slice
    }
}

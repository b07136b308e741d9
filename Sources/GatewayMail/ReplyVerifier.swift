import ApprovalTokens
import Crypto
import Foundation
import GatewayCore
import MailMessage

/// How replies are checked.
public struct ReplySettings: Sendable {
    /// The reply address pattern with `{key}` (e.g. `gateway+{key}@example.test`).
    public var replyAddress: String
    /// The authserv-id whose `Authentication-Results` are trusted, if any (REPLY-3).
    public var trustedAuthservID: String?
    /// Without a trusted authserv-id, replies are refused unless this is `false` (REPLY-4).
    public var requireAuthentication: Bool

    public init(replyAddress: String, trustedAuthservID: String?, requireAuthentication: Bool) {
        self.replyAddress = replyAddress
        self.trustedAuthservID = trustedAuthservID?.isEmpty == true ? nil : trustedAuthservID
        self.requireAuthentication = requireAuthentication
    }

    var addressPrefix: String { String(replyAddress.lowercased().split(separator: "{", maxSplits: 1).first ?? "") }
    var addressSuffix: String {
        guard let range = replyAddress.lowercased().range(of: "{key}") else { return "" }
        return String(replyAddress.lowercased()[range.upperBound...])
    }
}

/// What to do with one inbound message, decided from its bytes alone plus the directory and keys.
public struct ReplyVerdict: Sendable {
    /// The dedupe record (its outcome is final unless a decision is attempted).
    public var record: InboundMessage
    /// The decision to attempt, when the reply passed every check and carries a command.
    public var attempt: DecisionAttempt?
    /// The verified reviewer to answer, when there is one (never an unauthenticated address).
    public var verifiedReviewer: String?
    /// A fixed answer for the verified reviewer when no decision is attempted (not understood, expired).
    public var refusalText: String?
    public var showGrammar = false
}

/// Checks a reply step by step (DESIGN section 4): automated mail, the reply token, the sender, the
/// sending domain's authentication, and the command. Every verdict is recorded; tokens never are.
public struct ReplyVerifier: Sendable {
    public let settings: ReplySettings
    public let keyRing: KeyRing
    let store: any AccessStore & InboxStore

    public init(settings: ReplySettings, keyRing: KeyRing, store: any AccessStore & InboxStore) {
        self.settings = settings
        self.keyRing = keyRing
        self.store = store
    }

    /// The dedupe key of a message: its normalised Message-ID, else a hash of its bytes.
    public static func dedupeKey(messageID: String?, raw: [UInt8]) -> String {
        if let messageID, !messageID.isEmpty { return "mid:" + messageID.lowercased() }
        return "sha256:" + SHA256.hash(data: raw).map { String(format: "%02x", $0) }.joined()
    }

    /// The message ids (without angle brackets) in a `Message-ID`, `In-Reply-To` or `References` value.
    public static func messageIDs(in value: String) -> [String] {
        var ids: [String] = []
        var rest = Substring(value)
        while let open = rest.firstIndex(of: "<"), let close = rest[open...].firstIndex(of: ">") {
            let id = rest[rest.index(after: open)..<close].trimmingCharacters(in: .whitespaces)
            if !id.isEmpty, id.count <= 998, !id.contains(where: \.isWhitespace) { ids.append(id) }
            rest = rest[rest.index(after: close)...]
        }
        return ids
    }

    /// Judges `raw`, fetched from `mailbox` at `uid`.
    public func verify(raw: [UInt8], mailbox: String, uidValidity: UInt32, uid: UInt32, now: Date) async throws -> ReplyVerdict {
        let message: MailMessage
        do {
            message = try MailMessage(parsing: raw)
        } catch {
            let record = InboundMessage(
                key: Self.dedupeKey(messageID: nil, raw: raw), messageID: nil, mailbox: mailbox, uidValidity: uidValidity, uid: uid,
                sender: nil, requestID: nil, reviewer: nil, outcome: "rejected", reason: "unreadable", verdicts: ["parse": "\(error)"]
            )
            return ReplyVerdict(record: record)
        }
        let messageID = message.headers["Message-ID"].flatMap { Self.messageIDs(in: $0).first }
        var verdicts: [String: String] = [:]
        var record = InboundMessage(
            key: Self.dedupeKey(messageID: messageID, raw: raw), messageID: messageID, mailbox: mailbox,
            uidValidity: uidValidity, uid: uid, sender: nil, requestID: nil, reviewer: nil, outcome: "rejected", reason: nil, verdicts: [:]
        )
        func finish(_ outcome: String, _ reason: String) -> ReplyVerdict {
            record.outcome = outcome
            record.reason = reason
            record.verdicts = verdicts
            return ReplyVerdict(record: record)
        }

        // 1. Automated mail and our own mail: silently ignored (LOOP-1, LOOP-2).
        if let automated = AutomatedMail.classify(message) {
            verdicts["automated"] = automated.description
            return finish("ignored", "automated")
        }

        // 2. The reply token: the reply address, else the thread.
        let token = try await findToken(message, verdicts: &verdicts)
        guard let token else { return finish("rejected", verdicts["token"] ?? "no_token") }
        let key = token.key
        let reviewer = token.reviewer
        record.requestID = key.requestID
        record.reviewer = reviewer.email

        // 3. Exactly one From mailbox, equal to the token's reviewer (REPLY-2, REPLY-5).
        let author: Mailbox
        switch SenderVerification.authenticatedAuthor(of: message) {
        case .success(let mailbox):
            author = mailbox
        case .failure(let rejection):
            verdicts["from"] = "rejected: \(rejection.kind.rawValue)"
            return finish("rejected", "sender_unclear")
        }
        record.sender = author.normalizedAddress
        guard author.normalizedAddress == reviewer.email else {
            verdicts["from"] = "mismatch: \(author.normalizedAddress) is not the token's reviewer"
            return finish("rejected", "sender_mismatch")
        }
        verdicts["from"] = "match"

        // 4. The receiving server's authentication of the sending domain (REPLY-3, REPLY-4).
        if let trusted = settings.trustedAuthservID {
            let verdict = SenderAuthentication.evaluate(message.headers, trustedAuthservID: trusted, fromDomain: author.domain)
            verdicts["authentication"] = verdict.description
            guard verdict.isPass else { return finish("rejected", "not_authenticated") }
        } else if settings.requireAuthentication {
            verdicts["authentication"] = "not configured: set reply.trusted_authserv_id, or reply.require_authentication: false"
            return finish("rejected", "authentication_not_configured")
        } else {
            verdicts["authentication"] = "not checked (reply.require_authentication is false)"
        }

        // The reviewer is now verified: they may be answered.
        var verdict = ReplyVerdict(record: record, verifiedReviewer: reviewer.email)

        // 5. The command.
        let decision = ReplyDecision(message: message)
        verdicts["grammar"] = decision.command == .none ? "none: \(decision.noCommandReason.map { "\($0)" } ?? "not a command")" : decision.command.rawValue
        guard now < key.expiresAt else {
            verdicts["token"] = "expired"
            verdict.record = finish("refused", "past_deadline").record
            verdict.refusalText = "the request expired at \(NotificationRenderer.humanDate(key.expiresAt)); nothing can be decided any more."
            return verdict
        }
        let action: DecisionAction
        switch decision.command {
        case .approve: action = .approve
        case .deny: action = .deny
        case .none:
            verdict.record = finish("rejected", "not_understood").record
            verdict.refusalText = "its first line is not \"approve\" or \"deny\", so it was not understood."
            verdict.showGrammar = true
            return verdict
        }
        record.verdicts = verdicts
        verdict.record = record
        let keyDigest = SHA256.hash(data: Data(token.text.lowercased().utf8)).map { String(format: "%02x", $0) }.joined()
        verdict.attempt = DecisionAttempt(
            requestID: key.requestID, reviewer: reviewer.email, action: action, channel: .reply, comment: decision.comment,
            evidence: [
                "message_id": messageID ?? "(none)", "authentication": verdicts["authentication"] ?? "",
                "reply_key_sha256": keyDigest, "token_source": verdicts["token_source"] ?? "",
            ]
        )
        return verdict
    }

    /// Finds and verifies the reply token: the reply address in `Delivered-To`, `To` or `Cc`, else a
    /// notification's Message-ID in `In-Reply-To` or `References`. Several different valid tokens
    /// are ambiguous and refused.
    func findToken(_ message: MailMessage, verdicts: inout [String: String]) async throws -> (key: ReplyKey, reviewer: User, text: String)? {
        var candidates: [String] = []
        for name in ["Delivered-To", "To", "Cc", "X-Original-To"] {
            for field in message.headers.all(named: name) {
                for address in Self.addresses(in: field.value) {
                    let lower = address.lowercased()
                    guard lower.hasPrefix(settings.addressPrefix), lower.hasSuffix(settings.addressSuffix),
                          lower.count > settings.addressPrefix.count + settings.addressSuffix.count else { continue }
                    let key = String(lower.dropFirst(settings.addressPrefix.count).dropLast(settings.addressSuffix.count))
                    if !candidates.contains(key) { candidates.append(key) }
                }
            }
        }
        var found: [(key: ReplyKey, text: String)] = []
        var failure: TokenError?
        for candidate in candidates {
            do {
                let key = try ReplyKey.open(candidate, ring: keyRing)
                if !found.contains(where: { $0.key == key }) { found.append((key, candidate)) }
            } catch {
                failure = error
            }
        }
        if found.count > 1 {
            verdicts["token"] = "ambiguous: \(found.count) different reply keys"
            return nil
        }
        if let (key, text) = found.first {
            guard let reviewer = try await store.user(id: key.reviewerID), reviewer.isActive else {
                verdicts["token"] = "reviewer_unknown"
                return nil
            }
            verdicts["token"] = "valid reply key for request \(key.requestID)"
            verdicts["token_source"] = "address"
            return (key, reviewer, text)
        }
        // The thread: a client that dropped the reply address still answers our Message-ID.
        let threadIDs = (message.headers.all(named: "In-Reply-To") + message.headers.all(named: "References"))
            .flatMap { Self.messageIDs(in: $0.value) }
        for id in threadIDs {
            guard let entry = try await store.outboxEntry(messageID: id), [.newRequest, .reminder, .replyRefusal].contains(entry.kind),
                  let requestID = entry.requestID, let request = try await store.request(id: requestID),
                  let reviewer = try await store.user(email: entry.recipient), let reviewerID = try await store.userID(email: entry.recipient) else {
                continue
            }
            verdicts["token"] = "notification Message-ID of request \(requestID)"
            verdicts["token_source"] = "thread"
            return (ReplyKey(requestID: requestID, reviewerID: reviewerID, expiresAt: request.expiresAt), reviewer, "thread:" + id)
        }
        verdicts["token"] = failure.map { "invalid: \($0.reason.rawValue)" } ?? "no_token"
        return nil
    }

    /// Every `local@domain` in an address header, leniently (the token is verified anyway).
    static func addresses(in value: String) -> [String] {
        if let list = try? AddressParser.parseList(value) {
            return list.flatMap(\.mailboxes).map(\.address)
        }
        return value.split(whereSeparator: { " ,;<>\t\r\n\"".contains($0) }).map(String.init).filter { $0.contains("@") }
    }
}

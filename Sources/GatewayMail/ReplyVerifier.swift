import ApprovalTokens
import Crypto
import Foundation
import GatewayApp
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

/// Reads one inbound message into what it claims (DESIGN section 4): automated mail, the reply
/// key or thread, the single `From`, the receiving server's verdict on the sending domain, and the
/// command. Pure: no database, no clock. The service judges the claim against the database.
public struct ReplyVerifier: Sendable {
    public let settings: ReplySettings
    public let keyRing: KeyRing
    /// The signed envelope sender of the gateway's emails, whose bounces the inbox reads (LOOP-5).
    public let bounceAddress: BounceAddress?

    public init(settings: ReplySettings, keyRing: KeyRing, bounceAddress: BounceAddress? = nil) {
        self.settings = settings
        self.keyRing = keyRing
        self.bounceAddress = bounceAddress
    }

    /// The dedupe key of a message: its normalised Message-ID, else a hash of its bytes.
    public static func dedupeKey(messageID: String?, raw: [UInt8]) -> String {
        if let messageID, !messageID.isEmpty { return "mid:" + messageID.lowercased() }
        return "sha256:" + SHA256.hash(data: raw).lowercaseHex
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

    /// Reads `raw`, fetched from `mailbox` at `uid`.
    public func read(raw: [UInt8], mailbox: String, uidValidity: UInt32, uid: UInt32) -> InboundMail {
        let message: MailMessage
        do {
            message = try MailMessage(parsing: raw)
        } catch {
            return InboundMail(
                key: Self.dedupeKey(messageID: nil, raw: raw), messageID: nil, mailbox: mailbox, uidValidity: uidValidity, uid: uid,
                content: .rejected(.unreadable), evidence: ["parse": "\(error)"]
            )
        }
        let messageID = message.headers["Message-ID"].flatMap { Self.messageIDs(in: $0).first }
        var mail = InboundMail(
            key: Self.dedupeKey(messageID: messageID, raw: raw), messageID: messageID, mailbox: mailbox,
            uidValidity: uidValidity, uid: uid, content: .rejected(.noToken)
        )

        // 0. Mail to a signed bounce address: a delivery status notification about one of our
        // emails (LOOP-5), never answered; anything else sent there is dropped.
        if let bounceAddress, let outboxID = recipients(of: message).lazy.compactMap({ bounceAddress.outboxID(in: $0) }).first {
            if let status = DeliveryStatus(message), let failure = status.recipients.first(where: \.isPermanentFailure) {
                mail.content = .bounce(DeliveryFailureReport(outboxID: outboxID, recipient: failure.finalRecipient, status: failure.status, diagnostic: failure.diagnostic))
            } else {
                mail.content = .automated("mail to the bounce address that reports no permanent failure")
            }
            return mail
        }

        // 1. Automated mail and our own mail: silently ignored (LOOP-1, LOOP-2).
        if let automated = AutomatedMail.classify(message) {
            mail.content = .automated(automated.description)
            return mail
        }
        // 2. The reply key: the reply address, else the thread.
        let token: ReplyTokenReference
        switch findToken(message) {
        case .success(let found): token = found
        case .failure(let rejection):
            mail.content = .rejected(rejection.rejection)
            mail.evidence["token"] = rejection.detail
            return mail
        }
        // 3. Exactly one From mailbox (REPLY-5); the service compares it with the key's reviewer (REPLY-2).
        let sender: SenderCheck
        var fromDomain: String?
        switch SenderVerification.authenticatedAuthor(of: message) {
        case .success(let author):
            sender = .mailbox(author.normalizedAddress)
            fromDomain = author.domain
        case .failure(let rejection):
            sender = .unclear(rejection.kind.rawValue)
        }
        // 4. The receiving server's authentication of the sending domain (REPLY-3, REPLY-4).
        let authentication: AuthenticationCheck
        if let trusted = settings.trustedAuthservID {
            if let fromDomain {
                let verdict = SenderAuthentication.evaluate(message.headers, trustedAuthservID: trusted, fromDomain: fromDomain)
                authentication = verdict.isPass ? .passed(verdict.description) : .failed(verdict.description)
            } else {
                authentication = .failed("no single From domain to authenticate")
            }
        } else {
            authentication = settings.requireAuthentication ? .notConfigured : .notRequired
        }
        // 5. The command (REPLY-6).
        let decision = ReplyDecision(message: message)
        let command: ReplyCommandVerdict = switch decision.command {
        case .approve: .command(.approve, comment: decision.comment, grantSeconds: decision.grantSeconds)
        case .deny: .command(.deny, comment: decision.comment)
        case .none: .notUnderstood(decision.noCommandReason.map { "\($0)" } ?? "not a command")
        }
        mail.content = .reply(ReplyClaim(token: token, sender: sender, authentication: authentication, command: command))
        return mail
    }

    /// Why no usable reply key was found.
    struct TokenRejection: Error {
        var rejection: InboundRejection
        var detail: String
    }

    /// The reply key from `Delivered-To`, `To`, `Cc` or `X-Original-To` (MAC-verified; expiry is
    /// the service's to judge, so that a late reviewer is told), else the notification Message-IDs
    /// of the thread. Several different valid keys are ambiguous and refused.
    /// Every address of `Delivered-To`, `To`, `Cc` and `X-Original-To`, lowercased.
    func recipients(of message: MailMessage) -> [String] {
        ["Delivered-To", "To", "Cc", "X-Original-To"].flatMap { name in
            message.headers.all(named: name).flatMap { Self.addresses(in: $0.value) }
        }.map { $0.lowercased() }
    }

    func findToken(_ message: MailMessage) -> Result<ReplyTokenReference, TokenRejection> {
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
            return .failure(TokenRejection(rejection: .ambiguousToken, detail: "ambiguous: \(found.count) different reply keys"))
        }
        if let (key, text) = found.first {
            let digest = SHA256.hash(data: Data(text.utf8)).lowercaseHex
            return .success(.key(key, digest: digest))
        }
        // The thread: a client that dropped the reply address still answers our Message-ID.
        let threadIDs = (message.headers.all(named: "In-Reply-To") + message.headers.all(named: "References"))
            .flatMap { Self.messageIDs(in: $0.value) }
        if !threadIDs.isEmpty { return .success(.thread(threadIDs)) }
        if let failure {
            return .failure(TokenRejection(rejection: .invalidToken, detail: "invalid: \(failure.reason.rawValue)"))
        }
        return .failure(TokenRejection(rejection: .noToken, detail: "no reply key and no thread"))
    }

    /// Every `local@domain` in an address header, leniently (the token is verified anyway).
    static func addresses(in value: String) -> [String] {
        if let list = try? AddressParser.parseList(value) {
            return list.flatMap(\.mailboxes).map(\.address)
        }
        return value.split(whereSeparator: { " ,;<>\t\r\n\"".contains($0) }).map(String.init).filter { $0.contains("@") }
    }
}

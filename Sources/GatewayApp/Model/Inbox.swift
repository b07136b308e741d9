import ApprovalTokens
import Foundation
import GatewayCore

/// Why an inbound message was set aside without reaching a decision.
public enum InboundRejection: String, Sendable, Hashable, Codable, CaseIterable {
    /// The bytes are not a readable message.
    case unreadable
    /// Larger than `imap.max_message_bytes`: not downloaded (IMAP-4).
    case tooLarge = "too_large"
    /// No reply key in the recipient addresses and no notification in the thread.
    case noToken = "no_token"
    /// A reply key that does not verify.
    case invalidToken = "invalid_token"
    /// Several different valid reply keys.
    case ambiguousToken = "ambiguous_token"
    /// The key's reviewer is no longer an active user.
    case reviewerUnknown = "reviewer_unknown"
    /// Not exactly one plain `From` mailbox (REPLY-5).
    case senderUnclear = "sender_unclear"
    /// The `From` mailbox is not the key's reviewer (REPLY-2).
    case senderMismatch = "sender_mismatch"
    /// The receiving server did not vouch for the sending domain (REPLY-3).
    case notAuthenticated = "not_authenticated"
    /// No trusted authserv-id is configured and authentication is required (REPLY-4).
    case authenticationNotConfigured = "authentication_not_configured"
    /// A verified reviewer's reply whose first line is not a command (REPLY-6).
    case notUnderstood = "not_understood"
}

/// What the inbox did with one message: the one outcome type, from the service to the database
/// and back.
public enum InboxOutcome: Sendable, Hashable, CustomStringConvertible {
    /// The reply decided its request.
    case decided(DecisionAction)
    /// The reply's approval counted toward a quorum that it did not complete.
    case approvalCounted
    /// A verified reviewer's reply that the rules refused.
    case refused(DecisionRefusal.Code)
    /// Automated mail or the gateway's own: dropped silently (LOOP-1, LOOP-2).
    case ignored
    /// Set aside before any decision was attempted.
    case rejected(InboundRejection)
    /// A delivery status notification: the gateway's email with this outbox id bounced (LOOP-5).
    case bounced(outboxID: Int64)

    /// The coarse outcome, as counted in metrics and the audit log.
    public var disposition: AuditOutcome {
        switch self {
        case .decided, .approvalCounted: .decided
        case .refused: .refused
        case .ignored: .ignored
        case .rejected: .rejected
        case .bounced: .bounced
        }
    }

    /// The stored reason: the action, the refusal code, or the rejection code.
    public var reason: String? {
        switch self {
        case .decided(let action): action.rawValue
        case .approvalCounted: Self.approvalCountedReason
        case .refused(let code): code.rawValue
        case .ignored: "automated"
        case .rejected(let rejection): rejection.rawValue
        case .bounced(let outboxID): String(outboxID)
        }
    }

    /// Reads an outcome back from its stored form.
    /// - Throws: ``InboxOutcomeDecodingError`` for a value this build does not know (never guessed).
    public init(disposition: String, reason: String?) throws(InboxOutcomeDecodingError) {
        switch AuditOutcome(rawValue: disposition) {
        case .decided? where reason == Self.approvalCountedReason:
            self = .approvalCounted
        case .decided?:
            guard let action = reason.flatMap(DecisionAction.init(rawValue:)) else { throw InboxOutcomeDecodingError(disposition, reason) }
            self = .decided(action)
        case .refused?:
            guard let code = reason.flatMap(DecisionRefusal.Code.init(rawValue:)) else { throw InboxOutcomeDecodingError(disposition, reason) }
            self = .refused(code)
        case .ignored?:
            self = .ignored
        case .rejected?:
            guard let rejection = reason.flatMap(InboundRejection.init(rawValue:)) else { throw InboxOutcomeDecodingError(disposition, reason) }
            self = .rejected(rejection)
        case .bounced?:
            guard let outboxID = reason.flatMap({ Int64($0) }) else { throw InboxOutcomeDecodingError(disposition, reason) }
            self = .bounced(outboxID: outboxID)
        default:
            throw InboxOutcomeDecodingError(disposition, reason)
        }
    }

    public var description: String { "\(disposition.rawValue) \(reason ?? "")" }

    /// The stored reason of ``approvalCounted``.
    static let approvalCountedReason = "approval_counted"
}

/// A stored inbox outcome this build does not know.
public struct InboxOutcomeDecodingError: Error, Sendable, CustomStringConvertible {
    public var disposition: String
    public var reason: String?
    init(_ disposition: String, _ reason: String?) {
        self.disposition = disposition
        self.reason = reason
    }
    public var description: String { "unknown inbox outcome \"\(disposition)\" with reason \"\(reason ?? "")\"" }
}

/// Where a reply says it belongs.
public enum ReplyTokenReference: Sendable, Hashable {
    /// A reply key from the recipient address, verified by its MAC (not yet for expiry), and the
    /// SHA-256 of its text for the audit log.
    case key(ReplyKey, digest: String)
    /// No reply address: the Message-IDs of `In-Reply-To`, then `References`, in that order.
    case thread([String])
}

/// The `From` check: exactly one plain mailbox (REPLY-5).
public enum SenderCheck: Sendable, Hashable {
    case mailbox(String)
    case unclear(String)
}

/// The receiving server's verdict on the sending domain (REPLY-3, REPLY-4).
public enum AuthenticationCheck: Sendable, Hashable {
    case passed(String)
    case failed(String)
    /// No trusted authserv-id and authentication required: every reply is refused.
    case notConfigured
    /// The operator switched the check off (`reply.require_authentication: false`).
    case notRequired
}

/// The reply's first line, read with the reply grammar.
public enum ReplyCommandVerdict: Sendable, Hashable {
    /// `grantSeconds`: an approval for less time than asked (`approve 1h`).
    case command(DecisionAction, comment: String?, grantSeconds: Int? = nil)
    case notUnderstood(String)
}

/// Everything a reply claims, as read from its bytes by the mail module. The service turns the
/// claim into a verdict with the facts of the database.
public struct ReplyClaim: Sendable, Hashable {
    public var token: ReplyTokenReference
    public var sender: SenderCheck
    public var authentication: AuthenticationCheck
    public var command: ReplyCommandVerdict

    public init(token: ReplyTokenReference, sender: SenderCheck, authentication: AuthenticationCheck, command: ReplyCommandVerdict) {
        self.token = token
        self.sender = sender
        self.authentication = authentication
        self.command = command
    }
}

/// What an inbound message is, before the database is asked.
public enum InboundContent: Sendable, Hashable {
    /// Automated mail or the gateway's own (ignored silently).
    case automated(String)
    /// Set aside from its bytes alone.
    case rejected(InboundRejection)
    /// A reply to judge.
    case reply(ReplyClaim)
    /// A delivery status notification for one of the gateway's emails, to its bounce address.
    case bounce(DeliveryFailureReport)
}

/// What a delivery status notification (RFC 3464) says about one of the gateway's emails.
public struct DeliveryFailureReport: Sendable, Hashable {
    /// The outbox entry, from the signed bounce address the notification was sent back to.
    public var outboxID: Int64
    /// The recipient the report is about (`Final-Recipient`), if given.
    public var recipient: String?
    /// The RFC 3463 status (`5.1.1`).
    public var status: String
    /// The receiving server's words (`Diagnostic-Code`), if given.
    public var diagnostic: String?

    public init(outboxID: Int64, recipient: String?, status: String, diagnostic: String?) {
        self.outboxID = outboxID
        self.recipient = recipient
        self.status = status
        self.diagnostic = diagnostic
    }

    /// A short reason for operators: the status and the diagnostic.
    public var summary: String {
        "bounced: \(status)" + (diagnostic.map { " \($0)" } ?? "")
    }
}

/// One message from the gateway's mailbox, read.
public struct InboundMail: Sendable, Hashable {
    /// The dedupe key: the normalised Message-ID, or a hash of the raw bytes when there is none.
    public var key: String
    public var messageID: String?
    public var mailbox: String
    public var uidValidity: UInt32
    public var uid: UInt32
    public var content: InboundContent
    /// What the checks found, for the audit log. Never a token.
    public var evidence: [String: String]

    public init(key: String, messageID: String?, mailbox: String, uidValidity: UInt32, uid: UInt32, content: InboundContent, evidence: [String: String] = [:]) {
        self.key = key
        self.messageID = messageID
        self.mailbox = mailbox
        self.uidValidity = uidValidity
        self.uid = uid
        self.content = content
        self.evidence = evidence
    }
}

/// One handled message as recorded for dedupe, metrics and operators.
public struct InboundRecord: Sendable, Hashable {
    public var key: String
    public var messageID: String?
    public var mailbox: String
    public var uidValidity: UInt32
    public var uid: UInt32
    /// The single `From` address when it could be determined.
    public var sender: String?
    public var requestID: Int64?
    /// The reviewer the reply key names, once resolved.
    public var reviewer: String?
    public var outcome: InboxOutcome
    public var evidence: [String: String]

    public init(
        key: String, messageID: String?, mailbox: String, uidValidity: UInt32, uid: UInt32, sender: String?,
        requestID: Int64?, reviewer: String?, outcome: InboxOutcome, evidence: [String: String]
    ) {
        self.key = key
        self.messageID = messageID
        self.mailbox = mailbox
        self.uidValidity = uidValidity
        self.uid = uid
        self.sender = sender
        self.requestID = requestID
        self.reviewer = reviewer
        self.outcome = outcome
        self.evidence = evidence
    }
}

/// What handling one inbound message did.
public struct InboxResult: Sendable, Hashable {
    public var outcome: InboxOutcome
    /// The message was handled before: nothing was decided or sent again (IMAP-1, IMAP-2).
    public var isDuplicate: Bool
    /// An answer was queued for the verified reviewer.
    public var answered: Bool
    /// The request as it stands after a decision.
    public var request: AccessRequest?

    public init(outcome: InboxOutcome, isDuplicate: Bool, answered: Bool, request: AccessRequest?) {
        self.outcome = outcome
        self.isDuplicate = isDuplicate
        self.answered = answered
        self.request = request
    }
}

/// Limits on answers, so that two automatic systems can never keep mailing each other (LOOP-3, LOOP-4).
public struct AnswerLimits: Sendable, Hashable {
    /// Answers of any kind to one reviewer per rolling hour.
    public var perReviewerPerHour: Int
    /// Refusal answers to one reviewer about one request, ever.
    public var refusalsPerReviewerAndRequest: Int

    public init(perReviewerPerHour: Int = 5, refusalsPerReviewerAndRequest: Int = 1) {
        self.perReviewerPerHour = perReviewerPerHour
        self.refusalsPerReviewerAndRequest = refusalsPerReviewerAndRequest
    }
}

/// A mailbox's UIDVALIDITY and the last UID the inbox finished with.
public struct MailboxCursor: Sendable, Hashable {
    public var uidValidity: UInt32
    public var lastUID: UInt32

    public init(uidValidity: UInt32, lastUID: UInt32) {
        self.uidValidity = uidValidity
        self.lastUID = lastUID
    }
}

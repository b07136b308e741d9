import Foundation

/// One message the inbox processor handled, as recorded for dedupe and audit.
public struct InboundMessage: Sendable, Hashable {
    /// The dedupe key: the normalised Message-ID, or a hash of the raw bytes when there is none.
    public var key: String
    public var messageID: String?
    public var mailbox: String
    public var uidValidity: UInt32
    public var uid: UInt32
    /// The single `From` address when it could be determined.
    public var sender: String?
    public var requestID: Int64?
    /// The reviewer the reply token names, once verified.
    public var reviewer: String?
    /// What happened: `decided`, `refused`, `ignored`, `rejected`.
    public var outcome: String
    /// Why: a refusal code, an automated-mail reason, a token or sender verdict.
    public var reason: String?
    /// Every verdict (token, from, authentication, grammar), for the audit log. Never a token.
    public var verdicts: [String: String]

    public init(
        key: String, messageID: String?, mailbox: String, uidValidity: UInt32, uid: UInt32, sender: String?,
        requestID: Int64?, reviewer: String?, outcome: String, reason: String?, verdicts: [String: String]
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
        self.reason = reason
        self.verdicts = verdicts
    }
}

/// The email answering a verified reviewer's reply.
public struct ReplyAnswer: Sendable, Hashable {
    /// ``NotificationKind/replyConfirmation`` or ``NotificationKind/replyRefusal``.
    public var kind: NotificationKind
    public var recipient: String
    public var requestID: Int64
    /// Template values (`refusal`, `show_grammar`, `comment`...).
    public var context: [String: String]

    public init(kind: NotificationKind, recipient: String, requestID: Int64, context: [String: String]) {
        self.kind = kind
        self.recipient = EmailAddress.normalize(recipient)
        self.requestID = requestID
        self.context = context
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

/// What recording an inbound message did.
public enum InboundResult: Sendable, Hashable {
    /// The message was seen before: nothing was decided or sent again. Carries the first outcome.
    case duplicate(outcome: String, reason: String?)
    /// The message is recorded; `decision` is set when a decision was attempted, `answered` when an
    /// answer was enqueued.
    case recorded(decision: DecisionOutcome?, answered: Bool)
}

/// The inbox processor's state, kept with the data it changes.
public protocol InboxStore: Sendable {
    /// The stored UIDVALIDITY and last processed UID of `mailbox`.
    func mailboxState(_ mailbox: String) async throws -> (uidValidity: UInt32, lastUID: UInt32)?
    func saveMailboxState(_ mailbox: String, uidValidity: UInt32, lastUID: UInt32) async throws

    /// Records `message` and, in the same transaction, attempts `attempt` (if any) and enqueues the
    /// answer `answer` chooses for the outcome (if any, and within `limits`). A message whose key
    /// was recorded before changes nothing (IMAP-1, IMAP-2).
    func recordInbound(
        _ message: InboundMessage, attempt: DecisionAttempt?, limits: AnswerLimits,
        answer: @Sendable (DecisionOutcome?) -> ReplyAnswer?, now: Date
    ) async throws -> InboundResult

    /// Inbound messages, newest first.
    func inboundMessages(limit: Int) async throws -> [InboundMessage]
    /// The outbox entry whose rendered email had `messageID` (without angle brackets).
    func outboxEntry(messageID: String) async throws -> OutboxEntry?
}

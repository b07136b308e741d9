import Foundation

/// What an admin-role user wants to be emailed about. Approvers are always emailed about new
/// requests for their resources, whatever these say.
public struct NotificationPreferences: Sendable, Hashable, Codable {
    /// New requests for every resource.
    public var newRequests: Bool
    /// Outcomes (approved, denied, expired, cancelled) of every request.
    public var outcomes: Bool

    public init(newRequests: Bool, outcomes: Bool) {
        self.newRequests = newRequests
        self.outcomes = outcomes
    }

    /// The default: new requests on, outcomes off.
    public static let `default` = NotificationPreferences(newRequests: true, outcomes: false)
}

/// The emails the gateway sends.
public enum NotificationKind: String, Sendable, Codable, CaseIterable {
    /// A new request, to the people who may decide it.
    case newRequest = "new_request"
    /// The outcome, to the requester and ("decided by X") to the others who were notified.
    case decided
    /// The request expired undecided.
    case expired
    /// The requester withdrew it.
    case cancelled
    /// A reminder to the people who may decide, before the deadline.
    case reminder
    /// To a reviewer whose reply decided the request.
    case replyConfirmation = "reply_confirmation"
    /// To a verified reviewer whose reply changed nothing, with the reason.
    case replyRefusal = "reply_refusal"
    /// A sign-in link requested at the login page.
    case signIn = "sign_in"
    /// To the requester: their access was ended early.
    case grantRevoked = "grant_revoked"
    /// An approval short of the quorum ("approved by X; 1 more approval needed"), to everyone
    /// notified of the request and to the requester.
    case approvalRecorded = "approval_recorded"
    /// A request still pending at its resource's `escalate_after`, to the escalation reviewers,
    /// who may now decide it.
    case escalated
    /// To the reviewers first notified: the request was sent to the escalation reviewers.
    case escalationNotice = "escalation_notice"
}

extension NotificationKind {
    /// The emails that invite their recipient to decide: they carry the recipient's signed links and
    /// reply address, and a reply in their thread is read as that recipient's decision.
    public static let decisionInvitations: Set<NotificationKind> = [.newRequest, .reminder, .replyRefusal, .approvalRecorded, .escalated]
}

/// Someone to email, and why they qualify.
public struct NotificationRecipient: Sendable, Hashable, Codable {
    public var email: String
    /// Why: `group:db-approvers`, `role:admin`, `requester`, `notified`, `reviewer`.
    public var reason: String

    public init(email: String, reason: String) {
        self.email = EmailAddress.normalize(email)
        self.reason = reason
    }
}

/// Who is emailed about what. Pure: the store gathers the facts in the transaction that enqueues the mail.
public enum NotificationRecipients {
    /// Recipients of a new request: every active member of the resource's approver groups, always;
    /// active admin-role users whose preferences want new requests; never the requester; one entry
    /// per person however many ways they qualify.
    public static func forNewRequest(
        _ request: AccessRequest, resource: Resource, users: [User], groups: [Group],
        preferences: [String: NotificationPreferences]
    ) -> [NotificationRecipient] {
        let active = Dictionary(users.filter(\.isActive).map { ($0.email, $0) }, uniquingKeysWith: { first, _ in first })
        let requester = EmailAddress.normalize(request.requester)
        var chosen: [String: NotificationRecipient] = [:]
        for group in groups where resource.approverGroups.contains(group.name) {
            for member in group.members.sorted() where member != requester && active[member] != nil && chosen[member] == nil {
                chosen[member] = NotificationRecipient(email: member, reason: "group:\(group.name)")
            }
        }
        for user in active.values where user.role.reviewsEverything && user.email != requester && chosen[user.email] == nil {
            if (preferences[user.email] ?? .default).newRequests {
                chosen[user.email] = NotificationRecipient(email: user.email, reason: "role:\(user.role.rawValue)")
            }
        }
        return chosen.values.sorted { $0.email < $1.email }
    }

    /// Recipients of an outcome: the requester; everyone who was notified of the request except the
    /// person who decided it; admin-role users who want outcomes. One entry per person.
    public static func forOutcome(
        _ request: AccessRequest, notified: [String], decidedBy: String?, users: [User],
        preferences: [String: NotificationPreferences]
    ) -> [NotificationRecipient] {
        let decider = decidedBy.map(EmailAddress.normalize)
        let active = Set(users.filter(\.isActive).map(\.email))
        var chosen: [String: NotificationRecipient] = [:]
        let requester = EmailAddress.normalize(request.requester)
        chosen[requester] = NotificationRecipient(email: requester, reason: "requester")
        for email in notified.map(EmailAddress.normalize) where email != decider && active.contains(email) && chosen[email] == nil {
            chosen[email] = NotificationRecipient(email: email, reason: "notified")
        }
        for user in users where user.isActive && user.role.reviewsEverything && user.email != decider && chosen[user.email] == nil {
            if (preferences[user.email] ?? .default).outcomes {
                chosen[user.email] = NotificationRecipient(email: user.email, reason: "role:\(user.role.rawValue)")
            }
        }
        return chosen.values.sorted { $0.email < $1.email }
    }

    /// Recipients of an approval short of the quorum: the requester and everyone notified of the
    /// request, except the reviewer who approved (their channel answers them).
    public static func forApprovalRecorded(
        _ request: AccessRequest, notified: [String], approver: String, users: [User]
    ) -> [NotificationRecipient] {
        let approver = EmailAddress.normalize(approver)
        let active = Set(users.filter(\.isActive).map(\.email))
        let requester = EmailAddress.normalize(request.requester)
        var chosen: [String: NotificationRecipient] = [requester: NotificationRecipient(email: requester, reason: "requester")]
        for email in notified.map(EmailAddress.normalize) where email != approver && active.contains(email) && chosen[email] == nil {
            chosen[email] = NotificationRecipient(email: email, reason: "notified")
        }
        return chosen.values.sorted { $0.email < $1.email }
    }

    /// Recipients of an escalation: the active members of the resource's escalation groups, or the
    /// active admin-role users when it names none; never the requester.
    public static func forEscalation(_ request: AccessRequest, resource: Resource, users: [User], groups: [Group]) -> [NotificationRecipient] {
        let active = Dictionary(users.filter(\.isActive).map { ($0.email, $0) }, uniquingKeysWith: { first, _ in first })
        let requester = EmailAddress.normalize(request.requester)
        var chosen: [String: NotificationRecipient] = [:]
        if resource.escalationGroups.isEmpty {
            for user in active.values where user.role.reviewsEverything && user.email != requester {
                chosen[user.email] = NotificationRecipient(email: user.email, reason: "role:\(user.role.rawValue)")
            }
        } else {
            for group in groups.sorted(by: { $0.name < $1.name }) where resource.escalationGroups.contains(group.name) {
                for member in group.members.sorted() where member != requester && active[member] != nil && chosen[member] == nil {
                    chosen[member] = NotificationRecipient(email: member, reason: "escalation:\(group.name)")
                }
            }
        }
        return chosen.values.sorted { $0.email < $1.email }
    }
}

/// The state of one outgoing email.
public enum OutboxStatus: String, Sendable, Codable, CaseIterable {
    /// Waiting to be sent (or to be retried at ``OutboxEntry/nextAttemptAt``).
    case pending
    /// Claimed by a worker; reclaimed if the worker dies before finishing.
    case sending
    case sent
    /// Refused permanently, or out of retries.
    case failed
    /// Accepted by SMTP, then returned by a delivery status notification (LOOP-5).
    case bounced
}

/// One outgoing email in the transactional outbox.
public struct OutboxEntry: Sendable, Hashable, Identifiable {
    public var id: Int64
    public var kind: NotificationKind
    public var requestID: Int64?
    public var recipient: String
    /// Why this person gets it (see ``NotificationRecipient/reason``).
    public var reason: String
    public var status: OutboxStatus
    public var attempts: Int
    public var createdAt: Date
    public var nextAttemptAt: Date
    public var sentAt: Date?
    public var lastError: String?
    /// The `Message-ID`, fixed when the message is first rendered, so every retry resends the same message.
    public var messageID: String?
    /// The rendered message, kept after the first rendering.
    public var rawMessage: [UInt8]?
    /// Facts the renderer needs beyond the request (the reviewer of a reply answer, a refusal reason).
    public var context: [String: String]

    public init(
        id: Int64, kind: NotificationKind, requestID: Int64?, recipient: String, reason: String,
        status: OutboxStatus, attempts: Int, createdAt: Date, nextAttemptAt: Date, sentAt: Date?,
        lastError: String?, messageID: String?, rawMessage: [UInt8]?, context: [String: String]
    ) {
        self.id = id
        self.kind = kind
        self.requestID = requestID
        self.recipient = recipient
        self.reason = reason
        self.status = status
        self.attempts = attempts
        self.createdAt = createdAt
        self.nextAttemptAt = nextAttemptAt
        self.sentAt = sentAt
        self.lastError = lastError
        self.messageID = messageID
        self.rawMessage = rawMessage
        self.context = context
    }
}

/// A clock, injected so that expiry, reminders, grants and auto-lock are testable without waiting.
public protocol GatewayClock: Sendable {
    var now: Date { get }
}

/// The real time.
public struct SystemClock: GatewayClock {
    public init() {}
    public var now: Date { Date() }
}

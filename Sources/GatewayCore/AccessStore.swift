import Foundation

/// A decision someone tries to make, from any channel.
public struct DecisionAttempt: Sendable, Hashable {
    public var requestID: Int64
    /// Email of the reviewer as the channel authenticated them.
    public var reviewer: String
    public var action: DecisionAction
    public var channel: DecisionChannel
    public var comment: String?
    /// Channel evidence kept in the audit log: a Message-ID, a token's key id and nonce hash, a source
    /// address. Never a token.
    public var evidence: [String: String]
    /// The digest of a single-use token's nonce: a token that already decided something is refused.
    public var tokenNonce: String?

    public init(
        requestID: Int64, reviewer: String, action: DecisionAction, channel: DecisionChannel,
        comment: String? = nil, evidence: [String: String] = [:], tokenNonce: String? = nil
    ) {
        self.tokenNonce = tokenNonce
        self.requestID = requestID
        self.reviewer = EmailAddress.normalize(reviewer)
        self.action = action
        self.channel = channel
        let trimmed = comment?.trimmingCharacters(in: .whitespacesAndNewlines)
        self.comment = trimmed?.isEmpty == true ? nil : trimmed
        self.evidence = evidence
    }
}

/// The result of a decision attempt. Both outcomes are in the audit log.
public enum DecisionOutcome: Sendable, Hashable {
    /// The attempt won: the request is decided (and, for an approved JIT request, the grant exists).
    case decided(AccessRequest, grant: Grant?, right: ReviewRight)
    /// Nothing changed, for the reason given.
    case refused(DecisionRefusal, request: AccessRequest?)
}

/// Which requests to list.
public struct RequestFilter: Sendable, Hashable {
    public var states: Set<RequestState>?
    public var resource: String?
    public var requester: String?
    /// Only resolved requests resolved at or after this instant (pending requests are unaffected).
    public var resolvedSince: Date?
    public var limit: Int
    public var offset: Int

    public init(
        states: Set<RequestState>? = nil, resource: String? = nil, requester: String? = nil,
        resolvedSince: Date? = nil, limit: Int = 100, offset: Int = 0
    ) {
        self.states = states
        self.resource = resource
        self.requester = requester.map(EmailAddress.normalize)
        self.resolvedSince = resolvedSince
        self.limit = limit
        self.offset = offset
    }
}

/// One append-only audit record (AUDIT-1).
public struct AuditEntry: Sendable, Hashable, Codable, Identifiable {
    public var id: Int64
    public var at: Date
    /// What was attempted: `decide`, `cancel`, `create`, `expire`, `directory_sync`...
    public var action: String
    public var actor: String?
    public var requestID: Int64?
    public var channel: DecisionChannel?
    /// `accepted` or `refused`.
    public var outcome: String
    /// The refusal code, or the right that allowed it (`role:admin`, `group:db-approvers`).
    public var reason: String?
    /// Channel evidence and any other context.
    public var detail: [String: String]

    public init(
        id: Int64, at: Date, action: String, actor: String?, requestID: Int64?, channel: DecisionChannel?,
        outcome: String, reason: String?, detail: [String: String]
    ) {
        self.id = id
        self.at = at
        self.action = action
        self.actor = actor
        self.requestID = requestID
        self.channel = channel
        self.outcome = outcome
        self.reason = reason
        self.detail = detail
    }
}

/// Whether a user may use a resource at an instant.
public struct AccessStatus: Sendable, Hashable {
    public var user: String
    public var resource: String
    /// The grant that allows access, if any (the one ending last).
    public var grant: Grant?
    public var lock: AccessLock?

    public init(user: String, resource: String, grant: Grant?, lock: AccessLock?) {
        self.user = user
        self.resource = resource
        self.grant = grant
        self.lock = lock
    }

    public var isAllowed: Bool { grant != nil && !(lock.map { !$0.isLifted } ?? false) }
}

/// The gateway's persistent state.
///
/// Every method is a single transaction. Implementations must make ``decide(_:now:)`` atomic:
/// the state change is one conditional update (`WHERE id = ? AND state = 'pending'`) in the same
/// transaction as the grant and the audit record, so that concurrent attempts give exactly one
/// decision (AUTHZ-4), and the facts the policy judges are read inside that transaction (AUTHZ-2).
///
/// The SQLite store is the embedded default; another backend implements the same protocol and
/// passes the same conformance tests.
public protocol AccessStore: Sendable {
    // MARK: Directory

    /// Makes the stored directory equal to `snapshot`: adds and updates users, groups and resources,
    /// replaces memberships and approver groups, and deactivates users and resources the snapshot
    /// no longer lists (their history is kept). Idempotent.
    func syncDirectory(_ snapshot: DirectorySnapshot, now: Date) async throws -> DirectorySyncReport
    func user(email: String) async throws -> User?
    func users() async throws -> [User]
    func groups() async throws -> [Group]
    func resource(named name: String) async throws -> Resource?
    func resources() async throws -> [Resource]

    // MARK: Requests

    /// Validates and opens a request (``RequestRules``).
    func createRequest(_ new: NewAccessRequest, now: Date) async throws -> AccessRequest
    func request(id: Int64) async throws -> AccessRequest?
    /// Requests matching `filter`, newest first.
    func requests(_ filter: RequestFilter) async throws -> [AccessRequest]
    /// Decides through ``DecisionPolicy``, atomically; refusals are audited and returned, not thrown.
    func decide(_ attempt: DecisionAttempt, now: Date) async throws -> DecisionOutcome
    /// Cancels a pending request on its requester's behalf.
    func cancelRequest(id: Int64, requester: String, now: Date) async throws -> AccessRequest
    /// Moves every pending request whose deadline has passed to ``RequestState/expired``.
    func expireRequests(now: Date) async throws -> [AccessRequest]

    // MARK: Access

    func accessStatus(user: String, resource: String, at: Date) async throws -> AccessStatus
    /// Locks `user` out of `resource` (usage-based auto-lock).
    func lock(user: String, resource: String, now: Date) async throws -> AccessLock

    /// Records that `user` used `resource` (reported by the access layer).
    func recordUsage(user: String, resource: String, now: Date) async throws
    /// Locks users who have not used an auto-locking resource for its period.
    func autoLock(now: Date) async throws -> [AccessLock]

    // MARK: Notifications and the outbox

    func notificationPreferences(for email: String) async throws -> NotificationPreferences
    /// Sets an admin-role user's preferences (audited); refuses other users, whose emails are fixed.
    func setNotificationPreferences(_ preferences: NotificationPreferences, for email: String, actor: String?, now: Date) async throws
    /// Enqueues one email outside a request's life cycle (a reply answer, a sign-in link).
    func enqueueNotification(_ kind: NotificationKind, requestID: Int64?, recipient: NotificationRecipient, context: [String: String], now: Date) async throws
    func outboxEntries(status: OutboxStatus?, limit: Int) async throws -> [OutboxEntry]
    /// Claims due emails for `lease` seconds; unfinished claims are reclaimed after their lease.
    func claimOutbox(now: Date, limit: Int, lease: TimeInterval) async throws -> [OutboxEntry]
    /// Keeps an email's first rendering so that retries resend identical bytes (SMTP-3).
    func saveRenderedMessage(id: Int64, messageID: String, raw: [UInt8]) async throws
    func markOutboxSent(id: Int64, now: Date) async throws
    func markOutboxRetry(id: Int64, error: String, retryAt: Date) async throws
    func markOutboxFailed(id: Int64, error: String, now: Date) async throws
    /// Enqueues one reminder for each pending request whose deadline is within `lead`.
    func sendReminders(now: Date, lead: TimeInterval) async throws -> [Int64]
    /// A random id of this installation, created on first use.
    func installationID() async throws -> String
    /// The store's id for a user (carried by reply keys), and back.
    func userID(email: String) async throws -> Int64?
    func user(id: Int64) async throws -> User?

    // MARK: Audit

    /// Audit records, oldest first; for one request when `requestID` is set.
    func auditLog(requestID: Int64?) async throws -> [AuditEntry]
}

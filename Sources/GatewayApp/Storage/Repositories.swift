import Foundation
import GatewayCore

// The narrow views of the database that the service's use cases run over. Each method runs inside
// the caller's transaction; none applies a rule of the domain or of a channel: the service does.
// A backend conforms once, through ``StoreTransaction``.

/// Requests, grants and locks.
public protocol RequestRepository {
    func request(id: Int64) throws -> AccessRequest?
    /// The requester's pending request for the resource, if any (whatever its deadline).
    func pendingRequest(requester: String, resource: String) throws -> AccessRequest?
    func insertRequest(kind: RequestKind, requester: String, resource: String, reason: String, durationSeconds: Int?, createdAt: Date, expiresAt: Date) throws -> AccessRequest
    /// The claim (AUTHZ-4): moves the request from `pending` to the action's state only if it is
    /// still pending and before its deadline. Returns the request as decided when this call won,
    /// `nil` when it lost.
    func claimDecision(requestID: Int64, action: DecisionAction, reviewer: String, channel: DecisionChannel, comment: String?, now: Date) throws -> AccessRequest?
    /// Moves a pending request to `state` (`expired`, `cancelled`). Returns whether it was still pending.
    func resolve(requestID: Int64, as state: RequestState, now: Date) throws -> Bool
    /// Pending requests whose deadline has passed, optionally for one requester and resource.
    func overdueRequestIDs(now: Date, requester: String?, resource: String?) throws -> [Int64]
    /// Pending requests not yet reminded whose deadline is within `(now, until]`.
    func requestsToRemind(now: Date, until: Date) throws -> [Int64]
    func markReminded(requestID: Int64, now: Date) throws

    /// Every approval recorded for the request, oldest first.
    func approvals(requestID: Int64) throws -> [RecordedApproval]
    /// Records one reviewer's approval; `false` when that reviewer had already approved (one row
    /// per reviewer and request, whatever the channel).
    func insertApproval(_ approval: RecordedApproval) throws -> Bool
    /// Stores a count of the approvals: each reviewer's void reason (`nil`: counts) and the number
    /// that count, which lists and pages show.
    func recordApprovalStanding(requestID: Int64, voidReasons: [String: String?], count: Int) throws
    /// Pending, unexpired, not yet escalated requests of active resources with `escalate_after`.
    func escalationCandidates(now: Date) throws -> [EscalationCandidate]
    /// Marks the request escalated if it is still pending and was not escalated (a conditional
    /// update): `false` when another sweep got there first.
    func markEscalated(requestID: Int64, now: Date) throws -> Bool

    func insertGrant(requestID: Int64, startsAt: Date, endsAt: Date) throws -> Grant
    /// Ends grant `id` at `now` if it is still running (a conditional update): `false` when it had
    /// already ended or been revoked.
    func revokeGrant(id: Int64, now: Date, by actor: String?, reason: String?) throws -> Bool
    /// The grant with this id.
    func grant(id: Int64) throws -> Grant?
    /// The grants of `resource` running at `instant`, ending soonest first.
    func runningGrants(resource: String, at instant: Date) throws -> [Grant]
    func activeLock(user: String, resource: String) throws -> AccessLock?
    func insertLock(user: String, resource: String, now: Date) throws -> AccessLock
    /// Lifts the requester's lock on the request's resource.
    func liftLock(byRequest requestID: Int64, now: Date) throws
    func recordUsage(user: String, resource: String, now: Date) throws
    /// Every active user and auto-locking resource with some activity and no unlifted lock, with
    /// the last activity (use or grant start) and the last unlock.
    func autoLockCandidates() throws -> [AutoLockCandidate]
}

/// A pending request whose resource escalates; due once `createdAt + escalateAfterSeconds` has passed.
public struct EscalationCandidate: Sendable, Hashable {
    public var requestID: Int64
    public var createdAt: Date
    public var escalateAfterSeconds: Int

    public init(requestID: Int64, createdAt: Date, escalateAfterSeconds: Int) {
        self.requestID = requestID
        self.createdAt = createdAt
        self.escalateAfterSeconds = escalateAfterSeconds
    }

    /// When the request is due for escalation.
    public var dueAt: Date { createdAt.addingTimeInterval(TimeInterval(escalateAfterSeconds)) }
}

/// One user-and-resource pair the auto-lock rule looks at.
public struct AutoLockCandidate: Sendable, Hashable {
    public var user: String
    public var resource: String
    public var lockAfterDays: Int
    public var lastActive: Date
    public var lastLifted: Date?

    public init(user: String, resource: String, lockAfterDays: Int, lastActive: Date, lastLifted: Date?) {
        self.user = user
        self.resource = resource
        self.lockAfterDays = lockAfterDays
        self.lastActive = lastActive
        self.lastLifted = lastLifted
    }
}

/// Users, groups, resources and notification preferences.
public protocol DirectoryRepository {
    func user(email: String) throws -> User?
    func user(id: Int64) throws -> User?
    /// The store's id for a user (reply keys carry it).
    func userID(email: String) throws -> Int64?
    func users() throws -> [User]
    /// The users with one of `emails` (normalised) or one of `roles`, by address: the people a
    /// notification can go to, without reading the whole directory.
    func users(emails: Set<String>, orRoles roles: Set<AdminRole>) throws -> [User]
    func groups() throws -> [Group]
    /// Names of the groups `email` belongs to now.
    func groupNames(of email: String) throws -> Set<String>
    func resource(named name: String) throws -> Resource?
    func resources() throws -> [Resource]
    /// Stored preferences by email (admin-role users without a row use the default).
    func notificationPreferences() throws -> [String: NotificationPreferences]
    func saveNotificationPreferences(_ preferences: NotificationPreferences, for email: String) throws
    /// Replaces a resource's approver groups. - Throws: ``DirectoryEditError`` for unknown names.
    func replaceApproverGroups(_ groups: [String], resource: String) throws
    /// Replaces a group's members, creating the group if asked. - Throws: ``DirectoryEditError``.
    func replaceGroupMembers(_ members: [String], group: String, create: Bool) throws
    /// Makes the stored directory equal to `snapshot` (deactivating what it no longer lists).
    func applyDirectory(_ snapshot: DirectorySnapshot, now: Date) throws -> DirectorySyncReport
}

/// The transactional outbox (SMTP-1).
public protocol OutboxRepository {
    func enqueue(_ kind: NotificationKind, requestID: Int64?, recipient: NotificationRecipient, context: [String: String], now: Date) throws
    /// Queues the same email to each of `recipients`, in their order (one statement on PostgreSQL).
    func enqueue(_ kind: NotificationKind, requestID: Int64?, recipients: [NotificationRecipient], context: [String: String], now: Date) throws
    /// Everyone who was sent the new-request email for `requestID`, or its escalation.
    func notifiedRecipients(requestID: Int64) throws -> [String]
    /// The outbox entry whose rendered email had `messageID` (without angle brackets).
    func outboxEntry(messageID: String) throws -> OutboxEntry?
    func outboxEntry(id: Int64) throws -> OutboxEntry?
    /// Marks an email returned by a delivery status notification (LOOP-5).
    func markOutboxBounced(id: Int64, reason: String, now: Date) throws
    /// The emails about a request, oldest first.
    func outboxEntries(requestID: Int64) throws -> [OutboxEntry]
}

extension OutboxRepository {
    public func enqueue(_ kind: NotificationKind, requestID: Int64?, recipients: [NotificationRecipient], context: [String: String], now: Date) throws {
        for recipient in recipients {
            try enqueue(kind, requestID: requestID, recipient: recipient, context: context, now: now)
        }
    }
}

/// The append-only audit log (AUDIT-1).
public protocol AuditRepository {
    func appendAudit(_ entry: AuditEntry) throws
}

/// Inbound mail: dedupe, records and the answers sent to reviewers.
public protocol InboxRepository {
    /// The outcome recorded for the message with this dedupe key, if it was handled before.
    func inboundOutcome(key: String) throws -> InboxOutcome?
    func insertInbound(_ record: InboundRecord, now: Date) throws
    /// Notes an answer queued for a reviewer (the service's answer limits count these).
    func recordAnswer(to reviewer: String, requestID: Int64, kind: NotificationKind, now: Date) throws
    /// Answers of `kinds` queued for `reviewer` since `since`, optionally about one request.
    func answerCount(to reviewer: String, kinds: Set<NotificationKind>, requestID: Int64?, since: Date?) throws -> Int
}

/// Single-use tokens, sessions and attempt counters.
public protocol SessionRepository {
    /// Whether a token's nonce was used, to sign in or to decide.
    func isTokenUsed(nonceDigest: String) throws -> Bool
    /// Records a token's nonce as used; returns `false` when it was used before.
    func markTokenUsed(nonceDigest: String, requestID: Int64?, channel: DecisionChannel, expiresAt: Date, now: Date) throws -> Bool
    func insertSession(idDigest: String, user: String, expiresAt: Date, now: Date) throws
    /// The live session with this digest (not ended, not expired, its user active).
    func session(idDigest: String, now: Date) throws -> WebSession?
    /// What a signed-in request starts from, read together (the PostgreSQL store queues the queries
    /// at once and waits once): the live session with this digest, its active user and their groups, and every
    /// resource. `nil` when the session is not live or its user not active.
    func signedInFacts(idDigest: String, now: Date) throws -> SignedInFacts?
    /// Ends a session; returns its user, or `nil` when there was no live session.
    func endSession(idDigest: String, now: Date) throws -> String?
    /// Attempts counted in `bucket` since `since` (older ones are forgotten).
    func attemptCount(bucket: String, since: Date) throws -> Int
    func recordAttempt(bucket: String, now: Date) throws
}

/// API keys, by digest.
public protocol APIKeyRepository {
    func insertAPIKey(name: String, owner: APIKeyOwner, digest: String, expiresAt: Date?, now: Date) throws -> APIKey
    /// The key with this digest, whatever its state.
    func apiKey(digest: String) throws -> APIKey?
    func apiKey(name: String) throws -> APIKey?
    func apiKeys() throws -> [APIKey]
    func markAPIKeyUsed(id: Int64, now: Date) throws
    func revokeAPIKey(id: Int64, now: Date) throws
}

/// Read-only queries for pages, the API and operators.
public protocol QueryRepository {
    /// Requests matching `filter`, newest first.
    func requests(_ filter: RequestFilter) throws -> [AccessRequest]
    /// Requests matching `filter` that `viewer` may review (all for admin roles), newest first.
    func requests(reviewableBy viewer: String, filter: RequestFilter) throws -> [AccessRequest]
    /// How many pending, unexpired requests `viewer` may decide now: neither their own nor those
    /// they approved already (under a quorum, waiting for another reviewer).
    func openRequestCount(decidableBy viewer: String, now: Date) throws -> Int
    func accessStatus(user: String, resource: String, at instant: Date) throws -> AccessStatus
    /// A user's grants, newest first.
    func grants(user: String) throws -> [Grant]
    func grant(requestID: Int64) throws -> Grant?
    /// Audit records, oldest first; for one request when `requestID` is set.
    func auditLog(requestID: Int64?) throws -> [AuditEntry]
    /// Audit records at or after `since`, oldest first, at most `limit`, after record `afterID`.
    func auditLog(since: Date, afterID: Int64, limit: Int) throws -> [AuditEntry]
    func outboxEntries(status: OutboxStatus?, limit: Int) throws -> [OutboxEntry]
    /// Inbound messages, newest first.
    func inboundMessages(limit: Int) throws -> [InboundRecord]
    func gatewayCounts(latencyBounds: [Double]) throws -> GatewayCounts
}

/// Everything one transaction can reach.
public typealias StoreTransaction = RequestRepository & DirectoryRepository & OutboxRepository & AuditRepository
    & InboxRepository & SessionRepository & APIKeyRepository & QueryRepository & UseCaseReads

import Foundation
import GatewayCore

/// Everything one use case reads before it writes, asked for at once.
///
/// Each default composes the repositories' single reads, one after the other (the SQLite store,
/// in process, has nothing to save). A store whose every statement is a round trip overrides them
/// to send the queries together and wait once: on PostgreSQL a write holds the write lock while it
/// waits, so fewer waits under the lock are what let more writes through.
public protocol UseCaseReads {
    /// What a decision judges: the request, its resource, `reviewer` as the directory knows them
    /// now with their groups, and who would hear of the outcome. `nil` when there is no such request.
    /// Only in a write: a store whose writes of different scopes run side by side locks the
    /// request's row until the write ends.
    func decisionFacts(requestID: Int64, reviewer: String) throws -> DecisionFacts?
    /// What opening a request checks: the requester's overdue requests for the resource, the
    /// resource, the requester, their lock and pending request, and who would hear of the request.
    /// Only in a write: a store whose writes run side by side locks the pending request's row.
    func openingFacts(requester: String, resource: String, now: Date) throws -> OpeningFacts
    /// Who hears that request `requestID` left `pending` (``NotificationRecipients/forOutcome(_:notified:decidedBy:users:preferences:)``).
    func outcomeAudience(requestID: Int64) throws -> OutcomeAudience
    /// Who hears of a new request for `resource` (``NotificationRecipients/forNewRequest(_:resource:users:groups:preferences:)``).
    func newRequestAudience(for resource: Resource) throws -> NewRequestAudience
}

/// What a decision judges (``UseCaseReads/decisionFacts(requestID:reviewer:)``).
public struct DecisionFacts: Sendable, Equatable {
    public var request: AccessRequest
    /// The request's resource (`nil` only if the database lost it).
    public var resource: Resource?
    /// The reviewer, `nil` when not in the directory.
    public var reviewer: User?
    /// The groups the reviewer belongs to.
    public var reviewerGroups: Set<String>
    /// Who hears of the outcome, as the request stands before this decision.
    public var audience: OutcomeAudience

    public init(request: AccessRequest, resource: Resource?, reviewer: User?, reviewerGroups: Set<String>, audience: OutcomeAudience) {
        self.request = request
        self.resource = resource
        self.reviewer = reviewer
        self.reviewerGroups = reviewerGroups
        self.audience = audience
    }
}

/// What opening a request checks (``UseCaseReads/openingFacts(requester:resource:now:)``).
public struct OpeningFacts: Sendable, Equatable {
    /// The requester's pending requests for the resource whose deadline has passed: they are
    /// expired before anything else is judged.
    public var overdueRequestIDs: [Int64]
    public var resource: Resource?
    public var requester: User?
    /// The unlifted lock on the requester's access to the resource.
    public var lock: AccessLock?
    /// The requester's pending request for the resource (whatever its deadline).
    public var pending: AccessRequest?
    /// Who hears of the new request; `nil` without a resource.
    public var audience: NewRequestAudience?

    public init(
        overdueRequestIDs: [Int64], resource: Resource?, requester: User?, lock: AccessLock?, pending: AccessRequest?,
        audience: NewRequestAudience?
    ) {
        self.overdueRequestIDs = overdueRequestIDs
        self.resource = resource
        self.requester = requester
        self.lock = lock
        self.pending = pending
        self.audience = audience
    }
}

/// The people an outcome email can go to, with what they asked for.
public struct OutcomeAudience: Sendable, Equatable {
    /// Everyone sent the request's new-request email or its escalation.
    public var notified: [String]
    /// The notified people in the directory, and every admin-role user.
    public var users: [User]
    /// Stored preferences by email.
    public var preferences: [String: NotificationPreferences]

    public init(notified: [String], users: [User], preferences: [String: NotificationPreferences]) {
        self.notified = notified
        self.users = users
        self.preferences = preferences
    }
}

/// The people a new-request email can go to, with what they asked for.
public struct NewRequestAudience: Sendable, Equatable {
    /// The resource's approver groups with their members.
    public var groups: [Group]
    /// Their members in the directory, and every admin-role user.
    public var users: [User]
    /// Stored preferences by email.
    public var preferences: [String: NotificationPreferences]

    public init(groups: [Group], users: [User], preferences: [String: NotificationPreferences]) {
        self.groups = groups
        self.users = users
        self.preferences = preferences
    }
}

extension UseCaseReads where Self: RequestRepository & DirectoryRepository & OutboxRepository {
    public func decisionFacts(requestID: Int64, reviewer: String) throws -> DecisionFacts? {
        guard let request = try request(id: requestID) else { return nil }
        return DecisionFacts(
            request: request, resource: try resource(named: request.resource), reviewer: try user(email: reviewer),
            reviewerGroups: try groupNames(of: reviewer), audience: try outcomeAudience(requestID: requestID)
        )
    }

    public func openingFacts(requester: String, resource name: String, now: Date) throws -> OpeningFacts {
        let resource = try resource(named: name)
        return OpeningFacts(
            overdueRequestIDs: try overdueRequestIDs(now: now, requester: requester, resource: name), resource: resource,
            requester: try user(email: requester), lock: try activeLock(user: requester, resource: name),
            pending: try pendingRequest(requester: requester, resource: name), audience: try resource.map(newRequestAudience(for:))
        )
    }

    public func outcomeAudience(requestID: Int64) throws -> OutcomeAudience {
        let notified = try notifiedRecipients(requestID: requestID)
        return OutcomeAudience(
            notified: notified, users: try users(emails: Set(notified), orRoles: AdminRole.reviewingEverything),
            preferences: try notificationPreferences()
        )
    }

    public func newRequestAudience(for resource: Resource) throws -> NewRequestAudience {
        let groups = try groups().filter { resource.approverGroups.contains($0.name) }
        return NewRequestAudience(
            groups: groups, users: try users(emails: Set(groups.flatMap(\.members)), orRoles: AdminRole.reviewingEverything),
            preferences: try notificationPreferences()
        )
    }
}

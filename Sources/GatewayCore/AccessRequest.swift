import Foundation

/// The workflow a request belongs to.
public enum RequestKind: String, Sendable, Codable, CaseIterable {
    /// Time-boxed access: approval creates a grant that ends on its own.
    case jit
    /// Lifting a usage-based auto-lock: approval unlocks.
    case unlock
}

/// Where a request is in its life. Only ``pending`` ever changes, and only once.
public enum RequestState: String, Sendable, Codable, CaseIterable {
    case pending, approved, denied, expired, cancelled

    /// Whether the request has reached a final state.
    public var isResolved: Bool { self != .pending }
}

/// How a decision reached the gateway.
public enum DecisionChannel: String, Sendable, Codable, CaseIterable {
    case cli, web, link, reply, api
}

/// What a reviewer decided.
public enum DecisionAction: String, Sendable, Codable, CaseIterable {
    case approve, deny

    /// The state a pending request moves to.
    public var resultingState: RequestState { self == .approve ? .approved : .denied }
}

/// A recorded decision: who, when, through which channel, and why.
public struct Decision: Sendable, Hashable, Codable {
    public var reviewer: String
    public var action: DecisionAction
    public var decidedAt: Date
    public var channel: DecisionChannel
    public var comment: String?

    public init(reviewer: String, action: DecisionAction, decidedAt: Date, channel: DecisionChannel, comment: String?) {
        self.reviewer = reviewer
        self.action = action
        self.decidedAt = decidedAt
        self.channel = channel
        self.comment = comment
    }
}

/// A request for access to one resource.
public struct AccessRequest: Sendable, Hashable, Codable, Identifiable {
    public var id: Int64
    public var kind: RequestKind
    /// Email of the requester.
    public var requester: String
    /// Name of the resource.
    public var resource: String
    public var reason: String
    /// Requested JIT duration in seconds; `nil` for ``RequestKind/unlock`` requests.
    public var durationSeconds: Int?
    public var state: RequestState
    public var createdAt: Date
    /// The deadline: a request still pending at this instant expires.
    public var expiresAt: Date
    /// When the request left ``RequestState/pending`` by expiry or cancellation (decisions carry their own time).
    public var resolvedAt: Date?
    public var decision: Decision?
    /// Approvals that counted toward the quorum when last counted (at the latest approval).
    public var approvalCount: Int
    /// The quorum: the resource's `approvals_required` now.
    public var approvalsRequired: Int
    /// When the request was sent to the escalation reviewers, if it was.
    public var escalatedAt: Date?

    public init(
        id: Int64, kind: RequestKind, requester: String, resource: String, reason: String,
        durationSeconds: Int?, state: RequestState, createdAt: Date, expiresAt: Date,
        resolvedAt: Date? = nil, decision: Decision? = nil,
        approvalCount: Int = 0, approvalsRequired: Int = 1, escalatedAt: Date? = nil
    ) {
        self.id = id
        self.kind = kind
        self.requester = requester
        self.resource = resource
        self.reason = reason
        self.durationSeconds = durationSeconds
        self.state = state
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.resolvedAt = resolvedAt
        self.decision = decision
        self.approvalCount = approvalCount
        self.approvalsRequired = approvalsRequired
        self.escalatedAt = escalatedAt
    }

    /// Whether the request needs more than one approval.
    public var needsSeveralApprovals: Bool { approvalsRequired > 1 }

    /// Whether the request is still pending and its deadline has not passed at `now`.
    public func isOpen(at now: Date) -> Bool { state == .pending && now < expiresAt }
}

/// One reviewer's approval of a request that needs several (``Resource/approvalsRequired``).
///
/// Every approval is kept; whether it still counts is judged again at each later approval, with
/// the reviewer's rights at that moment (``DecisionPolicy/standing(of:reviewer:groups:request:resource:)``).
public struct RecordedApproval: Sendable, Hashable, Codable {
    public var requestID: Int64
    public var reviewer: String
    public var channel: DecisionChannel
    /// The right that allowed it when it was given (`group:db-approvers`, `role:admin`).
    public var right: String
    /// A shorter grant than asked, if the reviewer chose one.
    public var grantSeconds: Int?
    public var comment: String?
    public var approvedAt: Date
    /// Why the approval no longer counts (set at a later count), or `nil` when it counts.
    public var voidReason: String?

    public init(
        requestID: Int64, reviewer: String, channel: DecisionChannel, right: String, grantSeconds: Int?,
        comment: String?, approvedAt: Date, voidReason: String? = nil
    ) {
        self.requestID = requestID
        self.reviewer = reviewer
        self.channel = channel
        self.right = right
        self.grantSeconds = grantSeconds
        self.comment = comment
        self.approvedAt = approvedAt
        self.voidReason = voidReason
    }

    public var counts: Bool { voidReason == nil }
}

/// Time-boxed access created by approving a JIT request.
public struct Grant: Sendable, Hashable, Codable, Identifiable {
    public var id: Int64
    public var requestID: Int64
    public var user: String
    public var resource: String
    public var startsAt: Date
    /// When the access ends: the approved duration's end, or the moment it was revoked.
    public var endsAt: Date
    /// Set when the grant was ended early (``revokedBy`` names who, `nil` for the operator).
    public var revokedAt: Date?
    public var revokedBy: String?
    public var revokeReason: String?

    public init(
        id: Int64, requestID: Int64, user: String, resource: String, startsAt: Date, endsAt: Date,
        revokedAt: Date? = nil, revokedBy: String? = nil, revokeReason: String? = nil
    ) {
        self.id = id
        self.requestID = requestID
        self.user = user
        self.resource = resource
        self.startsAt = startsAt
        self.endsAt = endsAt
        self.revokedAt = revokedAt
        self.revokedBy = revokedBy
        self.revokeReason = revokeReason
    }

    /// Whether the grant gives access at `instant`.
    public func isActive(at instant: Date) -> Bool { startsAt <= instant && instant < endsAt }
}

/// A usage-based lock on one user's access to one resource.
public struct AccessLock: Sendable, Hashable, Codable {
    public var user: String
    public var resource: String
    public var lockedAt: Date
    /// Set when an approved unlock request lifted the lock.
    public var liftedAt: Date?

    public init(user: String, resource: String, lockedAt: Date, liftedAt: Date? = nil) {
        self.user = user
        self.resource = resource
        self.lockedAt = lockedAt
        self.liftedAt = liftedAt
    }

    public var isLifted: Bool { liftedAt != nil }
}

import Foundation
import GatewayApp
import GatewayCore

// The JSON API's response bodies, shared with the command line's JSON output so that both print
// the same fields. Times are RFC 3339; absent values are `null`, never missing keys.

/// An access request.
public struct RequestJSON: Codable, Sendable, Hashable {
    public var id: Int64
    public var kind: RequestKind
    public var status: RequestState
    public var requester: String
    public var resource: String
    public var reason: String
    public var durationSeconds: Int?
    public var createdAt: String
    public var expiresAt: String
    public var decidedAt: String?
    public var decidedBy: String?
    public var decision: DecisionAction?
    public var channel: DecisionChannel?
    public var comment: String?
    public var resolvedAt: String?
    /// Approvals counted so far, and how many the resource needs.
    public var approvals: Int
    public var approvalsRequired: Int
    /// When the request was sent to the escalation reviewers, if it was.
    public var escalatedAt: String?

    public init(_ request: AccessRequest) {
        id = request.id
        kind = request.kind
        status = request.state
        requester = request.requester
        resource = request.resource
        reason = request.reason
        durationSeconds = request.durationSeconds
        createdAt = RFC3339.string(from: request.createdAt)
        expiresAt = RFC3339.string(from: request.expiresAt)
        decidedAt = request.decision.map { RFC3339.string(from: $0.decidedAt) }
        decidedBy = request.decision?.reviewer
        decision = request.decision?.action
        channel = request.decision?.channel
        comment = request.decision?.comment
        resolvedAt = request.resolvedAt.map(RFC3339.string(from:))
        approvals = request.state == .approved && !request.needsSeveralApprovals ? 1 : request.approvalCount
        approvalsRequired = request.approvalsRequired
        escalatedAt = request.escalatedAt.map(RFC3339.string(from:))
    }

    enum CodingKeys: String, CodingKey {
        case id, kind, status, requester, resource, reason
        case durationSeconds = "duration_seconds", createdAt = "created_at", expiresAt = "expires_at"
        case decidedAt = "decided_at", decidedBy = "decided_by", decision, channel, comment, resolvedAt = "resolved_at"
        case approvals, approvalsRequired = "approvals_required", escalatedAt = "escalated_at"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(kind, forKey: .kind)
        try container.encode(status, forKey: .status)
        try container.encode(requester, forKey: .requester)
        try container.encode(resource, forKey: .resource)
        try container.encode(reason, forKey: .reason)
        try container.encode(durationSeconds, forKey: .durationSeconds)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(expiresAt, forKey: .expiresAt)
        try container.encode(decidedAt, forKey: .decidedAt)
        try container.encode(decidedBy, forKey: .decidedBy)
        try container.encode(decision, forKey: .decision)
        try container.encode(channel, forKey: .channel)
        try container.encode(comment, forKey: .comment)
        try container.encode(resolvedAt, forKey: .resolvedAt)
        try container.encode(approvals, forKey: .approvals)
        try container.encode(approvalsRequired, forKey: .approvalsRequired)
        try container.encode(escalatedAt, forKey: .escalatedAt)
    }
}

/// A list of requests.
public struct RequestListJSON: Codable, Sendable, Hashable {
    public var requests: [RequestJSON]
    public init(_ requests: [AccessRequest]) { self.requests = requests.map(RequestJSON.init) }
}

/// A grant of time-boxed access.
public struct GrantJSON: Codable, Sendable, Hashable {
    public var id: Int64
    public var requestID: Int64
    public var user: String
    public var resource: String
    public var startsAt: String
    public var endsAt: String
    /// Set when the grant was ended early, with who (absent: the operator) and why.
    public var revokedAt: String?
    public var revokedBy: String?
    public var revokeReason: String?

    public init(_ grant: Grant) {
        id = grant.id
        requestID = grant.requestID
        user = grant.user
        resource = grant.resource
        startsAt = RFC3339.string(from: grant.startsAt)
        endsAt = RFC3339.string(from: grant.endsAt)
        revokedAt = grant.revokedAt.map(RFC3339.string(from:))
        revokedBy = grant.revokedBy
        revokeReason = grant.revokeReason
    }

    enum CodingKeys: String, CodingKey {
        case id, requestID = "request_id", user, resource, startsAt = "starts_at", endsAt = "ends_at"
        case revokedAt = "revoked_at", revokedBy = "revoked_by", revokeReason = "revoke_reason"
    }
}

/// The answer to a decision attempt that counted.
public struct DecisionJSON: Codable, Sendable, Hashable {
    /// What the attempt did.
    public enum Result: String, Codable, Sendable, Hashable {
        /// The request is decided (approved or denied).
        case decided
        /// The approval counted; the request needs more and stays pending.
        case approvalRecorded = "approval_recorded"
    }

    public var result: Result
    public var request: RequestJSON
    public var grant: GrantJSON?
    /// What allowed it: `role:admin`, `group:db-approvers`.
    public var right: String

    public init(request: AccessRequest, grant: Grant?, right: ReviewRight) {
        self.result = .decided
        self.request = RequestJSON(request)
        self.grant = grant.map(GrantJSON.init)
        self.right = right.description
    }

    /// An approval short of the quorum.
    public init(approvalRecordedOn request: AccessRequest, right: ReviewRight) {
        self.result = .approvalRecorded
        self.request = RequestJSON(request)
        self.grant = nil
        self.right = right.description
    }

    /// The body for a service outcome that counted; `nil` for a refusal.
    public init?(_ outcome: DecisionOutcome) {
        switch outcome {
        case .decided(let request, let grant, let right): self.init(request: request, grant: grant, right: right)
        case .approvalRecorded(let request, let right): self.init(approvalRecordedOn: request, right: right)
        case .refused: return nil
        }
    }

    enum CodingKeys: String, CodingKey { case result, request, grant, right }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(result, forKey: .result)
        try container.encode(request, forKey: .request)
        try container.encode(grant, forKey: .grant)
        try container.encode(right, forKey: .right)
    }
}

/// Whether a user may use a resource now.
public struct AccessJSON: Codable, Sendable, Hashable {
    public var user: String
    public var resource: String
    public var allowed: Bool
    public var until: String?
    public var requestID: Int64?
    public var locked: Bool

    public init(_ status: AccessStatus) {
        user = status.user
        resource = status.resource
        allowed = status.isAllowed
        until = status.isAllowed ? status.grant.map { RFC3339.string(from: $0.endsAt) } : nil
        requestID = status.isAllowed ? status.grant?.requestID : nil
        locked = status.lock.map { !$0.isLifted } ?? false
    }

    enum CodingKeys: String, CodingKey { case user, resource, allowed, until, requestID = "request_id", locked }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(user, forKey: .user)
        try container.encode(resource, forKey: .resource)
        try container.encode(allowed, forKey: .allowed)
        try container.encode(until, forKey: .until)
        try container.encode(requestID, forKey: .requestID)
        try container.encode(locked, forKey: .locked)
    }
}

/// A recorded use of a resource.
public struct UsageJSON: Codable, Sendable, Hashable {
    public var user: String
    public var resource: String
    public var recordedAt: String

    public init(user: String, resource: String, recordedAt: Date) {
        self.user = user
        self.resource = resource
        self.recordedAt = RFC3339.string(from: recordedAt)
    }

    enum CodingKeys: String, CodingKey { case user, resource, recordedAt = "recorded_at" }
}

/// A user of the directory.
public struct UserJSON: Codable, Sendable, Hashable {
    public var email: String
    public var name: String
    public var role: AdminRole
    public var active: Bool
    public init(_ user: User) {
        email = user.email
        name = user.name
        role = user.role
        active = user.isActive
    }
}

/// A group and its members.
public struct GroupJSON: Codable, Sendable, Hashable {
    public var name: String
    public var members: [String]
    public init(_ group: Group) {
        name = group.name
        members = group.members.sorted()
    }
}

/// A resource and the rules of its requests.
public struct ResourceJSON: Codable, Sendable, Hashable {
    public var name: String
    public var approverGroups: [String]
    public var durationsSeconds: [Int]
    public var pendingTTLSeconds: Int
    public var autoLockAfterDays: Int?
    public var replyDecisions: Bool
    public var linkDecisions: Bool
    public var linkCodeRequired: Bool
    public var linkSignIn: Bool
    public var approvalsRequired: Int
    public var escalateAfterSeconds: Int?
    public var escalationGroups: [String]
    public var active: Bool

    public init(_ resource: Resource) {
        name = resource.name
        approverGroups = resource.approverGroups
        durationsSeconds = resource.allowedDurations
        pendingTTLSeconds = resource.pendingTTL
        autoLockAfterDays = resource.autoLockAfterDays
        replyDecisions = resource.replyDecisionsEnabled
        linkDecisions = resource.linkDecisionsEnabled
        linkCodeRequired = resource.linkCodeRequired
        linkSignIn = resource.linkSignInRequired
        approvalsRequired = resource.approvalsRequired
        escalateAfterSeconds = resource.escalateAfterSeconds
        escalationGroups = resource.escalationGroups
        active = resource.isActive
    }

    enum CodingKeys: String, CodingKey {
        case name, approverGroups = "approver_groups", durationsSeconds = "durations_seconds", pendingTTLSeconds = "pending_ttl_seconds"
        case autoLockAfterDays = "auto_lock_after_days", replyDecisions = "reply_decisions", linkDecisions = "link_decisions"
        case linkCodeRequired = "link_code_required", linkSignIn = "link_sign_in", active
        case approvalsRequired = "approvals_required", escalateAfterSeconds = "escalate_after_seconds", escalationGroups = "escalation_groups"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(approverGroups, forKey: .approverGroups)
        try container.encode(durationsSeconds, forKey: .durationsSeconds)
        try container.encode(pendingTTLSeconds, forKey: .pendingTTLSeconds)
        try container.encode(autoLockAfterDays, forKey: .autoLockAfterDays)
        try container.encode(replyDecisions, forKey: .replyDecisions)
        try container.encode(linkDecisions, forKey: .linkDecisions)
        try container.encode(linkCodeRequired, forKey: .linkCodeRequired)
        try container.encode(linkSignIn, forKey: .linkSignIn)
        try container.encode(approvalsRequired, forKey: .approvalsRequired)
        try container.encode(escalateAfterSeconds, forKey: .escalateAfterSeconds)
        try container.encode(escalationGroups, forKey: .escalationGroups)
        try container.encode(active, forKey: .active)
    }
}

public struct UserListJSON: Codable, Sendable, Hashable {
    public var users: [UserJSON]
    public init(_ users: [User]) { self.users = users.map(UserJSON.init) }
}

public struct GroupListJSON: Codable, Sendable, Hashable {
    public var groups: [GroupJSON]
    public init(_ groups: [Group]) { self.groups = groups.map(GroupJSON.init) }
}

public struct ResourceListJSON: Codable, Sendable, Hashable {
    public var resources: [ResourceJSON]
    public init(_ resources: [Resource]) { self.resources = resources.map(ResourceJSON.init) }
}

/// An API key as listed: never its secret.
public struct APIKeyJSON: Codable, Sendable, Hashable {
    public var id: Int64
    public var name: String
    /// `personal` or `integration`.
    public var kind: String
    /// A personal key's user.
    public var user: String?
    /// An integration key's scopes.
    public var scopes: [String]
    public var createdAt: String
    public var lastUsedAt: String?
    public var expiresAt: String?
    public var revokedAt: String?
    /// The key itself: only in the answer of `apikey create`, once.
    public var key: String?

    public init(_ apiKey: APIKey, secret: String? = nil) {
        id = apiKey.id
        name = apiKey.name
        kind = apiKey.user == nil ? "integration" : "personal"
        user = apiKey.user
        scopes = apiKey.scopes.sorted().map(\.rawValue)
        createdAt = RFC3339.string(from: apiKey.createdAt)
        lastUsedAt = apiKey.lastUsedAt.map(RFC3339.string(from:))
        expiresAt = apiKey.expiresAt.map(RFC3339.string(from:))
        revokedAt = apiKey.revokedAt.map(RFC3339.string(from:))
        key = secret
    }

    enum CodingKeys: String, CodingKey {
        case id, name, kind, user, scopes, createdAt = "created_at", lastUsedAt = "last_used_at", expiresAt = "expires_at"
        case revokedAt = "revoked_at", key
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(name, forKey: .name)
        try container.encode(kind, forKey: .kind)
        try container.encode(user, forKey: .user)
        try container.encode(scopes, forKey: .scopes)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(lastUsedAt, forKey: .lastUsedAt)
        try container.encode(expiresAt, forKey: .expiresAt)
        try container.encode(revokedAt, forKey: .revokedAt)
        try container.encodeIfPresent(key, forKey: .key)
    }
}

/// An error answer: a stable code, a message, and the field at fault when there is one.
public struct ErrorJSON: Codable, Sendable, Hashable {
    public var error: String
    public var message: String
    public var field: String?
    /// The refusal code of a refused decision (`not_allowed`, `not_pending`...).
    public var reason: String?

    public init(error: String, message: String, field: String? = nil, reason: String? = nil) {
        self.error = error
        self.message = message
        self.field = field
        self.reason = reason
    }
}

extension JSONEncoder {
    /// The encoder of every JSON answer: keys in declaration order, no escaped slashes.
    public static var gatewayAPI: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return encoder
    }
}

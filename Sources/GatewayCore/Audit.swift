import Foundation

/// What an audit record is about. Stored by its raw value; an unknown value read back is an error.
public enum AuditAction: String, Sendable, Codable, CaseIterable {
    case create, decide, cancel, expire, lock, revoke
    /// An approval counted toward a quorum that it did not complete (the completing one is `decide`).
    case approve
    /// A pending request sent to the escalation reviewers.
    case escalate
    case inbound
    case signIn = "sign_in", signOut = "sign_out", signInLink = "sign_in_link"
    case linkCode = "link_code"
    case apiKeyCreate = "api_key_create", apiKeyRevoke = "api_key_revoke", apiKeyRefused = "api_key_refused"
    case approverGroups = "approver_groups", groupMembers = "group_members"
    case notificationPreferences = "notification_preferences"
    case directorySync = "directory_sync"
}

/// Whether an audited attempt changed something.
///
/// Inbound messages record what the inbox did with them (``InboxDisposition``), the rest record
/// ``accepted`` or ``refused``.
public enum AuditOutcome: String, Sendable, Codable, CaseIterable {
    case accepted, refused
    /// Inbound messages only.
    case decided, ignored, rejected
    /// A delivery status notification for one of the gateway's emails (LOOP-5).
    case bounced
}

/// One append-only audit record (AUDIT-1).
public struct AuditEntry: Sendable, Hashable, Codable, Identifiable {
    public var id: Int64
    public var at: Date
    public var action: AuditAction
    /// Who acted: a user's email, `api-key:NAME` for an integration key, `nil` for the gateway itself.
    public var actor: String?
    public var requestID: Int64?
    public var channel: DecisionChannel?
    public var outcome: AuditOutcome
    /// The refusal code, or the right that allowed it (`role:admin`, `group:db-approvers`).
    public var reason: String?
    /// Channel evidence and any other context. Never a token or a secret.
    public var detail: [String: String]
    /// The SHA-256 chain: the previous record's hash and this record's (set once stored).
    public var previousHash: String?
    public var hash: String?

    public init(
        id: Int64 = 0, at: Date, action: AuditAction, actor: String?, requestID: Int64? = nil, channel: DecisionChannel? = nil,
        outcome: AuditOutcome, reason: String? = nil, detail: [String: String] = [:], previousHash: String? = nil, hash: String? = nil
    ) {
        self.previousHash = previousHash
        self.hash = hash
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

/// Which requests to list.
public struct RequestFilter: Sendable, Hashable {
    /// Where a page starts in the newest-first list (keyset pagination: a deep page costs what the
    /// first one does, unlike an offset).
    public enum Position: Sendable, Hashable {
        /// The newest requests.
        case newest
        /// The requests just older than the request with this id.
        case olderThan(Int64)
        /// The requests just newer than the request with this id.
        case newerThan(Int64)
        /// The oldest requests.
        case oldest

        /// Whether the store reads this page oldest first (the rows still come back newest first).
        public var readsOldestFirst: Bool {
            switch self {
            case .newerThan, .oldest: true
            case .newest, .olderThan: false
            }
        }
    }

    public var states: Set<RequestState>?
    public var resource: String?
    public var requester: String?
    /// Only pending requests and those created at or after this instant (the page's "open and
    /// recent" view).
    public var recentSince: Date?

    /// What ``recentSince`` leaves to check once the states asked for are known: nothing when only
    /// pending requests are asked for, the creation bound alone when no pending ones are, both
    /// otherwise. Stores write the simplest condition, which their indexes can range over.
    public enum RecentCondition: Sendable, Hashable {
        case none
        case createdSince(Date)
        case pendingOrCreatedSince(Date)
    }

    public var recentCondition: RecentCondition {
        guard let since = recentSince else { return .none }
        guard let states else { return .pendingOrCreatedSince(since) }
        if states == [.pending] { return .none }
        return states.contains(.pending) ? .pendingOrCreatedSince(since) : .createdSince(since)
    }
    public var limit: Int
    /// Rows skipped from `position` (the API's paging); pages use ``position`` alone.
    public var offset: Int
    public var position: Position = .newest

    public init(
        states: Set<RequestState>? = nil, resource: String? = nil, requester: String? = nil,
        recentSince: Date? = nil, limit: Int = 100, offset: Int = 0, position: Position = .newest
    ) {
        self.states = states
        self.resource = resource
        self.requester = requester.map(EmailAddress.normalize)
        self.recentSince = recentSince
        self.limit = limit
        self.offset = offset
        self.position = position
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

/// Why a web or API change to the directory was refused.
public struct DirectoryEditError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable, Codable {
        case unknownResource = "unknown_resource"
        case unknownGroup = "unknown_group"
        case unknownUser = "unknown_user"
        case notAllowed = "not_allowed"
        /// The edit would leave a resource with fewer possible approvers than its `approvals_required`.
        case quorumUnreachable = "quorum_unreachable"
    }

    public var code: Code
    public var detail: String

    public init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

    public var description: String { detail }
}

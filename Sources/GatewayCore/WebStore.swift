import Foundation

/// A signed-in browser session, kept server-side. The browser holds only a random id; the store
/// keeps its SHA-256 digest, so a copy of the database cannot be used to sign in.
public struct WebSession: Sendable, Hashable {
    /// The hex SHA-256 of the session id the browser holds.
    public var idDigest: String
    /// The signed-in user's email.
    public var user: String
    public var createdAt: Date
    public var expiresAt: Date

    public init(idDigest: String, user: String, createdAt: Date, expiresAt: Date) {
        self.idDigest = idDigest
        self.user = EmailAddress.normalize(user)
        self.createdAt = createdAt
        self.expiresAt = expiresAt
    }
}

/// A bearer key of the JSON API. The key itself is shown once, when created; the store keeps its
/// SHA-256 digest only.
public struct APIKeyRecord: Sendable, Hashable, Codable {
    public var id: Int64
    /// What the key is for, chosen by whoever created it (`access-proxy`, `ci`).
    public var name: String
    /// The user the key acts as when a request does not name one (optional).
    public var actor: String?
    public var createdAt: Date
    public var lastUsedAt: Date?
    public var revokedAt: Date?

    public init(id: Int64, name: String, actor: String?, createdAt: Date, lastUsedAt: Date?, revokedAt: Date?) {
        self.id = id
        self.name = name
        self.actor = actor.map(EmailAddress.normalize)
        self.createdAt = createdAt
        self.lastUsedAt = lastUsedAt
        self.revokedAt = revokedAt
    }
}

/// Why a web or API change to the directory was refused.
public struct DirectoryEditError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable, Codable {
        case unknownResource = "unknown_resource"
        case unknownGroup = "unknown_group"
        case unknownUser = "unknown_user"
        case notAllowed = "not_allowed"
    }

    public var code: Code
    public var detail: String

    public init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

    public var description: String { detail }
}

/// One cumulative histogram bucket: how many observations were at most `upperBound`.
public struct HistogramBucket: Sendable, Hashable {
    public var upperBound: Double
    public var count: Int

    public init(upperBound: Double, count: Int) {
        self.upperBound = upperBound
        self.count = count
    }
}

/// Counts behind the `/metrics` endpoint, read in one transaction.
public struct GatewayCounts: Sendable, Hashable {
    /// Requests by state (every state is present, zero when none).
    public var requestsByState: [RequestState: Int]
    /// Outbox emails by status.
    public var emailsByStatus: [OutboxStatus: Int]
    /// Inbound messages handled by the inbox, by outcome (`decided`, `refused`, `ignored`, `rejected`).
    public var inboundByOutcome: [String: Int]
    /// Decision latency (from request creation to decision) in seconds, cumulative buckets.
    public var decisionLatencyBuckets: [HistogramBucket]
    public var decisionLatencyCount: Int
    public var decisionLatencySum: Double

    public init(
        requestsByState: [RequestState: Int], emailsByStatus: [OutboxStatus: Int], inboundByOutcome: [String: Int],
        decisionLatencyBuckets: [HistogramBucket], decisionLatencyCount: Int, decisionLatencySum: Double
    ) {
        self.requestsByState = requestsByState
        self.emailsByStatus = emailsByStatus
        self.inboundByOutcome = inboundByOutcome
        self.decisionLatencyBuckets = decisionLatencyBuckets
        self.decisionLatencyCount = decisionLatencyCount
        self.decisionLatencySum = decisionLatencySum
    }
}

/// What the web pages and the JSON API need from storage beyond ``AccessStore``.
///
/// Every method is one transaction. Secrets never reach the store: sessions, API keys and sign-in
/// tokens are kept as SHA-256 digests.
public protocol WebStore: AccessStore {
    // MARK: Sessions

    /// Records a new session for `user`, valid until `expiresAt`, and audits the sign-in.
    func createSession(idDigest: String, user: String, expiresAt: Date, evidence: [String: String], now: Date) async throws
    /// The session with this digest, when it exists, has not expired and its user is still active.
    func session(idDigest: String, now: Date) async throws -> WebSession?
    /// Ends a session (sign out) and audits it. Ending an unknown session does nothing.
    func endSession(idDigest: String, now: Date) async throws

    // MARK: Single-use sign-in tokens

    /// Marks a sign-in token's nonce as used. Returns `false` when it was used before (LINK-8).
    func consumeSignInToken(nonceDigest: String, expiresAt: Date, now: Date) async throws -> Bool
    /// Whether a token's nonce was used, to sign in or to decide. Read-only.
    func isTokenUsed(nonceDigest: String) async throws -> Bool

    // MARK: Rate limiting and secrets

    /// Counts one attempt in `bucket` and tells whether it is within `limit` attempts per `window`.
    func allowAttempt(bucket: String, limit: Int, window: TimeInterval, now: Date) async throws -> Bool
    /// A random secret of this installation for the web layer (CSRF form tokens), created on first use.
    func webSecret() async throws -> [UInt8]

    // MARK: API keys

    /// Records a new API key by its digest, audited.
    func createAPIKey(name: String, actor: String?, keyDigest: String, now: Date) async throws -> APIKeyRecord
    /// The unrevoked key with this digest, noting its use.
    func apiKey(digest: String, now: Date) async throws -> APIKeyRecord?

    // MARK: Directory editing

    /// Replaces a resource's approver groups, audited with the previous and new lists.
    /// - Throws: ``DirectoryEditError`` for an unknown resource or group.
    func setApproverGroups(_ groups: [String], resource: String, actor: String, channel: DecisionChannel, now: Date) async throws -> Resource
    /// Replaces a group's members (creating the group when `create` is set), audited.
    /// - Throws: ``DirectoryEditError`` for an unknown group or user.
    func setGroupMembers(_ members: [String], group: String, create: Bool, actor: String, channel: DecisionChannel, now: Date) async throws -> Group

    // MARK: Queries for pages

    /// Requests matching `filter` that `viewer` may review: all for an admin-role user, otherwise
    /// those for resources whose approver groups include the viewer. Newest first.
    func requests(reviewableBy viewer: String, filter: RequestFilter) async throws -> [AccessRequest]
    /// How many pending, unexpired requests `viewer` may decide now (their own excluded).
    func openRequestCount(decidableBy viewer: String, now: Date) async throws -> Int
    /// A user's grants, newest first.
    func grants(user: String) async throws -> [Grant]
    /// Counts for metrics; `latencyBounds` are the histogram's upper bounds in seconds.
    func gatewayCounts(latencyBounds: [Double]) async throws -> GatewayCounts
    /// Appends an audit record for a web or API action that is not a decision (sign-in, sign-out,
    /// sign-in link requested).
    func appendAudit(action: String, actor: String?, requestID: Int64?, channel: DecisionChannel?, outcome: String, reason: String?, detail: [String: String], now: Date) async throws
}

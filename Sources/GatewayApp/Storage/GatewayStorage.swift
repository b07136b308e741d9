import Foundation
import GatewayCore

/// A database the gateway runs on: transactions over the repositories, the outbox worker's
/// bookkeeping, and a few installation values.
///
/// ``write(_:)`` runs its body in one serialisable write transaction: everything the body does
/// commits together or not at all, and concurrent bodies see each other's effects only after
/// commit. A body that throws rolls back. The SQLite store is the embedded default.
public protocol GatewayStorage: Sendable {
    /// Runs `body` in one write transaction, with no other write beside it.
    func write<T: Sendable>(_ body: @escaping @Sendable (any StoreTransaction) throws -> T) async throws -> T
    /// Runs `body` in one write transaction that touches only `scope`: a store that can run writes
    /// side by side runs it beside writes of other scopes, never beside one of the same scope or
    /// one of ``WriteScope/everything``. The result is the same as ``write(_:)``'s.
    func write<T: Sendable>(_ scope: WriteScope, _ body: @escaping @Sendable (any StoreTransaction) throws -> T) async throws -> T
    /// Runs `body` in one read-only transaction (a consistent snapshot).
    func read<T: Sendable>(_ body: @escaping @Sendable (any StoreTransaction) throws -> T) async throws -> T

    // MARK: The outbox worker

    /// Claims up to `limit` due emails for `lease` seconds; unfinished claims are reclaimed after it.
    func claimOutbox(now: Date, limit: Int, lease: TimeInterval) async throws -> [OutboxEntry]
    /// Keeps each email's first rendering so that retries resend identical bytes (SMTP-3), in one
    /// transaction; a message whose `raw` is `nil` is rendered afresh on each attempt (a sign-in
    /// link is never stored). An email that already has a rendering keeps it.
    func saveRenderedMessages(_ messages: [RenderedOutboxMessage]) async throws
    /// Records that SMTP accepted each email, in one transaction, keeping only its header block
    /// (reply keys redacted) and the SHA-256 of the whole message: the body and its signed links
    /// are dropped.
    func markOutboxSent(_ deliveries: [OutboxDelivery]) async throws
    func markOutboxRetry(id: Int64, error: String, retryAt: Date) async throws
    func markOutboxFailed(id: Int64, error: String, now: Date) async throws
    /// Gives claimed, unsent emails back (graceful shutdown): they are due again at once.
    func releaseOutboxClaims(ids: [Int64]) async throws
    /// Extends the claim on emails still being sent to `until`, so that a long batch keeps them
    /// while a claim left by a dead worker still runs out soon.
    func extendOutboxClaims(ids: [Int64], until: Date) async throws

    // MARK: Installation values

    /// A random id of this installation, created on first use (Message-IDs, thread roots).
    func installationID() async throws -> String
    /// A random secret of this installation for the web layer (CSRF form tokens), created on first use.
    func webSecret() async throws -> [UInt8]
    func metadata(_ key: String) async throws -> String?
    func setMetadata(_ key: String, _ value: String) async throws

    // MARK: Leases

    /// Takes or renews the lease `name` for `holder` for `duration` seconds, and returns whether
    /// `holder` holds it now. A lease is free when nobody holds it or its holder let it run out
    /// (a crashed gateway); it is measured on the database's clock, so gateways on hosts whose
    /// clocks differ agree on it.
    func holdLease(_ name: String, holder: String, duration: TimeInterval) async throws -> Bool
    /// Gives the lease up at once if `holder` holds it (a graceful stop), so another gateway takes
    /// it without waiting for it to run out.
    func releaseLease(_ name: String, holder: String) async throws

    // MARK: The audit log's integrity

    /// Walks the audit log's hash chain and reports the first record that breaks it.
    func verifyAuditChain() async throws -> AuditChainReport

    // MARK: The inbox's place in its mailbox

    func mailboxCursor(_ mailbox: String) async throws -> MailboxCursor?
    func saveMailboxCursor(_ mailbox: String, _ cursor: MailboxCursor) async throws
}

/// What the outbox keeps of an email SMTP accepted (see ``GatewayStorage/markOutboxSent(_:)``).
public struct OutboxDelivery: Sendable, Hashable {
    public var id: Int64
    public var sentAt: Date
    /// The header block, reply keys redacted.
    public var retainedHeaders: [UInt8]
    /// The SHA-256 of the whole message, hexadecimal.
    public var bodyDigest: String

    public init(id: Int64, sentAt: Date, retainedHeaders: [UInt8], bodyDigest: String) {
        self.id = id
        self.sentAt = sentAt
        self.retainedHeaders = retainedHeaders
        self.bodyDigest = bodyDigest
    }
}

/// The first rendering of an outbox email, kept so that a retry resends the same message.
public struct RenderedOutboxMessage: Sendable, Hashable {
    public var id: Int64
    /// The Message-ID without angle brackets.
    public var messageID: String
    /// The whole message; `nil` when it must not be stored (it is rendered again on each attempt).
    public var raw: [UInt8]?

    public init(id: Int64, messageID: String, raw: [UInt8]?) {
        self.id = id
        self.messageID = messageID
        self.raw = raw
    }
}

extension GatewayStorage {
    /// Keeps one email's first rendering (see ``saveRenderedMessages(_:)``).
    public func saveRenderedMessage(id: Int64, messageID: String, raw: [UInt8]?) async throws {
        try await saveRenderedMessages([RenderedOutboxMessage(id: id, messageID: messageID, raw: raw)])
    }

    /// Records that SMTP accepted one email (see ``markOutboxSent(_:)``).
    public func markOutboxSent(id: Int64, now: Date, retainedHeaders: [UInt8], bodyDigest: String) async throws {
        try await markOutboxSent([OutboxDelivery(id: id, sentAt: now, retainedHeaders: retainedHeaders, bodyDigest: bodyDigest)])
    }

    // Read-only conveniences for operators, renderers and tests: one query, one snapshot.

    public func request(id: Int64) async throws -> AccessRequest? { try await read { try $0.request(id: id) } }
    public func requests(_ filter: RequestFilter) async throws -> [AccessRequest] { try await read { try $0.requests(filter) } }
    public func user(email: String) async throws -> User? { try await read { try $0.user(email: email) } }
    public func user(id: Int64) async throws -> User? { try await read { try $0.user(id: id) } }
    public func userID(email: String) async throws -> Int64? { try await read { try $0.userID(email: email) } }
    public func users() async throws -> [User] { try await read { try $0.users() } }
    public func groups() async throws -> [Group] { try await read { try $0.groups() } }
    public func resource(named name: String) async throws -> Resource? { try await read { try $0.resource(named: name) } }
    public func resources() async throws -> [Resource] { try await read { try $0.resources() } }
    public func accessStatus(user: String, resource: String, at instant: Date) async throws -> AccessStatus {
        try await read { try $0.accessStatus(user: user, resource: resource, at: instant) }
    }
    public func auditLog(requestID: Int64?) async throws -> [AuditEntry] { try await read { try $0.auditLog(requestID: requestID) } }
    public func outboxEntries(status: OutboxStatus?, limit: Int) async throws -> [OutboxEntry] {
        try await read { try $0.outboxEntries(status: status, limit: limit) }
    }
    public func inboundMessages(limit: Int) async throws -> [InboundRecord] { try await read { try $0.inboundMessages(limit: limit) } }
    public func notificationPreferences(for email: String) async throws -> NotificationPreferences {
        try await read { try $0.notificationPreferences()[EmailAddress.normalize(email)] ?? .default }
    }
    public func grants(user: String) async throws -> [Grant] { try await read { try $0.grants(user: user) } }
    public func apiKeys() async throws -> [APIKey] { try await read { try $0.apiKeys() } }
}

/// The result of walking the audit log's hash chain.
public struct AuditChainReport: Sendable, Hashable {
    /// A record where the chain breaks, and how.
    public struct Break: Sendable, Hashable {
        public var id: Int64
        public var problem: String

        public init(id: Int64, problem: String) {
            self.id = id
            self.problem = problem
        }
    }

    /// How many records verified before the first break (all of them when there is none).
    public var records: Int
    public var firstBroken: Break?

    public init(records: Int, firstBroken: Break?) {
        self.records = records
        self.firstBroken = firstBroken
    }
}

/// What a write transaction touches: which other writes may run beside it.
///
/// A write that names a scope reads and changes only the rows of that scope, plus rows no other
/// write reads to decide (new outbox emails, new audit records, which a store orders on its own).
/// Two writes of one scope never run side by side, and a write of ``everything`` runs alone.
public enum WriteScope: Sendable, Hashable {
    /// Anything: no other write runs beside it.
    case everything
    /// One request: its decision, its approvals, its cancelling.
    case request(Int64)
    /// The requester's requests for one resource: opening one (which expires an overdue one first).
    case requests(requester: String, resource: String)
}

extension GatewayStorage {
    /// A store whose writes run one at a time has nothing to gain from a scope.
    public func write<T: Sendable>(_ scope: WriteScope, _ body: @escaping @Sendable (any StoreTransaction) throws -> T) async throws -> T {
        try await write(body)
    }
}

import Foundation
import GatewayCore

extension ApprovalService {
    // MARK: Opening and cancelling

    /// Opens a request through ``RequestRules`` and queues its emails in the same transaction (SMTP-1).
    ///
    /// Who the requester is depends on the actor: a session or a personal key opens its user's own
    /// requests (naming anyone else is ``AccessDenied``); an integration key needs `requests:create`
    /// and names the requester; the operator names anyone.
    /// - Throws: ``AccessDenied``, or ``RequestError`` for a request the rules refuse.
    public func openRequest(_ draft: RequestDraft, by actor: Actor) async throws -> AccessRequest {
        let requester = try requester(named: draft.requester, for: actor)
        let now = self.now
        return try await storage.write(.requests(requester: requester, resource: draft.resource)) { [self] tx in
            var facts = try tx.openingFacts(requester: requester, resource: draft.resource, now: now)
            // A pending request past its deadline is expired first, so it never blocks a new one.
            if !facts.overdueRequestIDs.isEmpty {
                for id in facts.overdueRequestIDs { try expire(requestID: id, in: tx, now: now) }
                facts = try tx.openingFacts(requester: requester, resource: draft.resource, now: now)
            }
            let new = NewAccessRequest(requester: requester, resource: draft.resource, reason: draft.reason, durationSeconds: draft.durationSeconds, kind: draft.kind)
            let accepted = try RequestRules.validate(
                new, requester: facts.requester, resource: facts.resource, lock: facts.lock, pending: facts.pending, now: now
            )
            let request = try tx.insertRequest(
                kind: accepted.kind, requester: requester, resource: draft.resource, reason: accepted.reason,
                durationSeconds: accepted.durationSeconds, createdAt: now, expiresAt: accepted.expiresAt
            )
            var detail = ["kind": accepted.kind.rawValue, "resource": draft.resource]
            if case .apiKey(let key) = actor { detail["api_key"] = key.name }
            try tx.audit(.create, .accepted, actor: actor.auditName ?? requester, requestID: request.id, channel: actor.channel, detail: detail, at: now)
            if let resource = facts.resource { try enqueueNewRequest(request, resource: resource, audience: facts.audience, in: tx, now: now) }
            return request
        }
    }

    /// Whose request an actor may open or cancel.
    func requester(named: String?, for actor: Actor) throws -> String {
        let named = named.map(EmailAddress.normalize)
        switch actor {
        case .cli:
            guard let named else { throw RequestError(.unknownRequester, "requester is required") }
            return named
        case .session(let viewer):
            if let named, named != viewer.user.email {
                throw AccessDenied(field: "requester", "you can ask for access only for yourself")
            }
            return viewer.user.email
        case .apiKey(let key):
            if let owner = key.user {
                if let named, named != owner {
                    throw AccessDenied(field: "requester", "requester: a personal key acts only as its user, \(owner); it cannot name another requester")
                }
                return owner
            }
            try Self.require(.requestsCreate, of: key)
            guard let named else { throw RequestError(.unknownRequester, "requester is required with an integration key (it acts as nobody)") }
            return named
        }
    }

    /// Cancels a pending request on its requester's behalf. The refusal is audited and thrown.
    /// - Throws: ``AccessDenied`` or ``RequestError``.
    public func cancelRequest(id: Int64, namedRequester: String?, by actor: Actor) async throws -> AccessRequest {
        let requester = try requester(named: namedRequester, for: actor)
        let now = self.now
        let result: Result<AccessRequest, RequestError> = try await storage.write(.request(id)) { [self] tx in
            let name = actor.auditName ?? requester
            guard let request = try tx.request(id: id) else {
                return .failure(RequestError(.unknownRequest, "there is no request \(id)"))
            }
            guard request.requester == requester else {
                try tx.audit(.cancel, .refused, actor: name, requestID: id, channel: actor.channel, reason: RequestError.Code.notRequester.rawValue, at: now)
                return .failure(RequestError(.notRequester, "only the requester, \(request.requester), can cancel request \(id)"))
            }
            guard request.isOpen(at: now), try tx.resolve(requestID: id, as: .cancelled, now: now) else {
                try tx.audit(.cancel, .refused, actor: name, requestID: id, channel: actor.channel, reason: RequestError.Code.notPending.rawValue, detail: ["state": request.state.rawValue], at: now)
                let state = request.state == .pending ? "expired" : request.state.rawValue
                return .failure(RequestError(.notPending, "request \(id) is already \(state)"))
            }
            try tx.audit(.cancel, .accepted, actor: name, requestID: id, channel: actor.channel, at: now)
            guard let cancelled = try tx.request(id: id) else { throw ServiceInvariantError("request \(id) vanished while being cancelled") }
            try enqueueOutcome(cancelled, in: tx, now: now)
            return .success(cancelled)
        }
        return try result.get()
    }

    /// Expires a pending request past its deadline, auditing it and queueing its outcome emails.
    func expire(requestID: Int64, in tx: any StoreTransaction, now: Date) throws {
        guard try tx.resolve(requestID: requestID, as: .expired, now: now) else { return }
        try tx.audit(.expire, .accepted, actor: nil, requestID: requestID, reason: "past_deadline", at: now)
        if let request = try tx.request(id: requestID) { try enqueueOutcome(request, in: tx, now: now) }
    }

    // MARK: Notifications

    /// Queues the new-request emails (``NotificationRecipients/forNewRequest(_:resource:users:groups:preferences:)``).
    /// - Parameter audience: who can hear of it, when the caller read it already.
    func enqueueNewRequest(_ request: AccessRequest, resource: Resource, audience: NewRequestAudience? = nil, in tx: any StoreTransaction, now: Date) throws {
        let audience = try audience ?? tx.newRequestAudience(for: resource)
        let recipients = NotificationRecipients.forNewRequest(
            request, resource: resource, users: audience.users, groups: audience.groups, preferences: audience.preferences
        )
        try tx.enqueue(.newRequest, requestID: request.id, recipients: recipients, context: [:], now: now)
    }

    /// Queues the outcome emails of a request that just left `pending`.
    /// - Parameter audience: who can hear of it, when the caller read it already (in this transaction).
    func enqueueOutcome(
        _ request: AccessRequest, grant: Grant? = nil, approvers: [String] = [], audience: OutcomeAudience? = nil, in tx: any StoreTransaction, now: Date
    ) throws {
        let kind: NotificationKind
        switch request.state {
        case .pending: return
        case .approved, .denied: kind = .decided
        case .expired: kind = .expired
        case .cancelled: kind = .cancelled
        }
        let audience = try audience ?? tx.outcomeAudience(requestID: request.id)
        var recipients = NotificationRecipients.forOutcome(
            request, notified: audience.notified, decidedBy: request.decision?.reviewer, users: audience.users, preferences: audience.preferences
        )
        // The requester withdrew it themselves: they need no email about it.
        if kind == .cancelled { recipients.removeAll { $0.reason == "requester" } }
        // The grant as given (it may be shorter than asked), for "you have access until".
        var context: [String: String] = [:]
        if let grant {
            context["grant_ends_at"] = RFC3339.string(from: grant.endsAt)
            context["granted_seconds"] = String(Int(grant.endsAt.timeIntervalSince(grant.startsAt).rounded()))
        }
        // Under a quorum: everyone whose approval counted.
        if !approvers.isEmpty { context["approvers"] = approvers.joined(separator: ", ") }
        try tx.enqueue(kind, requestID: request.id, recipients: recipients, context: context, now: now)
    }

    // MARK: Access and usage

    /// Whether `user` may use `resource` now. A personal key asks about its own user only; an
    /// integration key needs `access:read`.
    /// - Throws: ``AccessDenied`` or ``RequestError`` for an unknown user or resource.
    public func accessStatus(user: String, resource: String, by actor: Actor) async throws -> AccessStatus {
        let user = EmailAddress.normalize(user)
        switch actor {
        case .cli: break
        case .session(let viewer):
            guard viewer.user.email == user || viewer.isAdminRole else { throw AccessDenied(field: "user", "you can check only your own access") }
        case .apiKey(let key):
            if let owner = key.user {
                guard owner == user else { throw AccessDenied(field: "user", "user: a personal key checks only its own user's access, \(owner)") }
            } else {
                try Self.require(.accessRead, of: key)
            }
        }
        let now = self.now
        return try await storage.read { tx in
            guard try tx.user(email: user) != nil else { throw RequestError(.unknownRequester, "\(user) is not a user of the directory") }
            guard try tx.resource(named: resource) != nil else { throw RequestError(.unknownResource, "there is no resource named \"\(resource)\"") }
            return try tx.accessStatus(user: user, resource: resource, at: now)
        }
    }

    /// Records that `user` used `resource` (the access layer reports it). Needs `usage:write` on
    /// an integration key; the operator may too.
    /// - Throws: ``AccessDenied`` or ``RequestError`` for an unknown user or resource.
    public func recordUsage(user: String, resource: String, by actor: Actor) async throws {
        switch actor {
        case .cli: break
        case .session: throw AccessDenied("usage is reported by the access layer, not from a browser")
        case .apiKey(let key):
            guard key.user == nil else { throw AccessDenied("usage is reported with an integration key that has the usage:write scope") }
            try Self.require(.usageWrite, of: key)
        }
        let user = EmailAddress.normalize(user)
        let now = self.now
        try await storage.write { tx in
            guard try tx.user(email: user) != nil else { throw RequestError(.unknownRequester, "\(user) is not a user of the directory") }
            guard try tx.resource(named: resource) != nil else { throw RequestError(.unknownResource, "there is no resource named \"\(resource)\"") }
            try tx.recordUsage(user: user, resource: resource, now: now)
        }
    }

    /// Locks `user` out of `resource` now (the operator's `access lock`), audited.
    public func lock(user: String, resource: String) async throws -> AccessLock {
        let user = EmailAddress.normalize(user)
        let now = self.now
        return try await storage.write { tx in
            guard try tx.user(email: user) != nil else { throw RequestError(.unknownRequester, "\(user) is not a user of the directory") }
            guard try tx.resource(named: resource) != nil else { throw RequestError(.unknownResource, "there is no resource named \"\(resource)\"") }
            if let existing = try tx.activeLock(user: user, resource: resource) { return existing }
            let lock = try tx.insertLock(user: user, resource: resource, now: now)
            try tx.audit(.lock, .accepted, actor: nil, detail: ["user": user, "resource": resource], at: now)
            return lock
        }
    }

    // MARK: Reading requests

    /// Requests matching `filter` that the actor may see: everything for the operator and an
    /// integration key with `requests:read`; what the user may review, and their own, for a
    /// session or a personal key.
    public func requests(_ filter: RequestFilter, by actor: Actor) async throws -> [AccessRequest] {
        switch actor {
        case .cli:
            return try await storage.read { try $0.requests(filter) }
        case .apiKey(let key) where key.user == nil:
            try Self.require(.requestsRead, of: key)
            return try await storage.read { try $0.requests(filter) }
        case .session(let viewer):
            return try await visibleRequests(filter, to: viewer.user.email)
        case .apiKey(let key):
            return try await visibleRequests(filter, to: key.user!)
        }
    }

    /// One request, if the actor may see it (see ``requests(_:by:)``).
    public func request(id: Int64, by actor: Actor) async throws -> AccessRequest? {
        let user: String
        switch actor {
        case .cli: return try await storage.read { try $0.request(id: id) }
        case .apiKey(let key) where key.user == nil:
            try Self.require(.requestsRead, of: key)
            return try await storage.read { try $0.request(id: id) }
        case .session(let viewer): user = viewer.user.email
        case .apiKey(let key): user = key.user!
        }
        return try await storage.read { tx in
            guard let request = try tx.request(id: id) else { return nil }
            if request.requester == user { return request }
            guard let reviewer = try tx.user(email: user), let resource = try tx.resource(named: request.resource),
                  DecisionPolicy.reviewRight(of: reviewer, groups: try tx.groupNames(of: user), for: resource, request: request) != nil else { return nil }
            return request
        }
    }

    /// A user's own requests and those they may review, newest first.
    func visibleRequests(_ filter: RequestFilter, to user: String) async throws -> [AccessRequest] {
        try await storage.read { tx in
            var wanted = filter
            wanted.limit = filter.limit + filter.offset
            wanted.offset = 0
            var own = filter
            own.requester = user
            own.limit = wanted.limit
            own.offset = 0
            // The requester filter of the caller still applies to the reviewable part.
            let reviewable = try tx.requests(reviewableBy: user, filter: wanted)
            let mine = filter.requester == nil || filter.requester == user ? try tx.requests(own) : []
            var seen = Set<Int64>()
            let merged = (reviewable + mine).filter { seen.insert($0.id).inserted }
                .sorted { ($0.createdAt, $0.id) > ($1.createdAt, $1.id) }
            return Array(merged.dropFirst(filter.offset).prefix(filter.limit))
        }
    }

    /// Throws unless an integration key carries `scope`.
    static func require(_ scope: APIScope, of key: APIKey) throws(AccessDenied) {
        guard key.scopes.contains(scope) else {
            throw AccessDenied("this key lacks the \(scope.rawValue) scope (its scopes: \(key.scopes.sorted().map(\.rawValue).joined(separator: ", ")))")
        }
    }
}

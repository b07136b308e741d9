import ApprovalTokens
import Foundation
import GatewayCore

/// What an emailed link's page shows to whoever holds the link.
public struct LinkView: Sendable, Hashable {
    public var request: AccessRequest
    public var resource: Resource
    /// The link's reviewer as the directory knows them now.
    public var reviewer: User?
    /// The token was already used for a decision (LINK-8).
    public var tokenUsed: Bool
    /// Why the reviewer could not decide now, judged by the same policy as the decision; `nil` when
    /// they can (the decision itself judges again).
    public var refusal: DecisionRefusal?
    /// The approvals so far of a request that needs several, judged with each reviewer's rights now.
    public var approvals: [RecordedApproval]
}

/// A page's list of requests, with what the page shows beside them (``ApprovalService/requestListing(_:for:filter:)``).
public struct RequestListing: Sendable {
    /// Whose requests a listing reads.
    public enum Scope: Sendable, Hashable {
        /// The requests the viewer may review.
        case reviewable
        /// Any request (admin roles).
        case everyone
        /// The viewer's own requests.
        case own
    }

    /// The requests, newest first, as the store returned them (a keyset page reads one more).
    public var requests: [AccessRequest]
    /// The names of the requesters and deciders of ``requests`` by normalised address; people no
    /// longer in the directory are left out.
    public var names: [String: String]
    /// The open requests of ``requests`` that the viewer has approved and that wait for another
    /// reviewer.
    public var approvedByViewer: Set<Int64>
    /// How many pending, unexpired requests the viewer may decide now (the bell); 0 for a viewer
    /// who reviews nothing.
    public var openRequestCount: Int

    public init(requests: [AccessRequest], names: [String: String], approvedByViewer: Set<Int64>, openRequestCount: Int) {
        self.requests = requests
        self.names = names
        self.approvedByViewer = approvedByViewer
        self.openRequestCount = openRequestCount
    }

    /// The name to show for `email`: the directory's, or the address itself.
    public func name(of email: String) -> String {
        // Stored addresses are normalised already: the direct look-up almost always answers.
        names[email] ?? names[EmailAddress.normalize(email)] ?? email
    }
}

extension ApprovalService {
    /// The request an emailed link (review, approve or deny) points to, for its read-only page.
    /// Changes nothing (LINK-1).
    public func linkView(_ claims: TokenClaims) async throws -> LinkView? {
        guard let requestID = claims.requestID else { return nil }
        let now = self.now
        return try await storage.read { tx in
            guard let request = try tx.request(id: requestID), let resource = try tx.resource(named: request.resource) else { return nil }
            let reviewer = try tx.user(email: claims.subject)
            let used = try tx.isTokenUsed(nonceDigest: claims.nonceDigest)
            let facts = DecisionPolicy.Facts(
                request: request, resource: resource, reviewer: reviewer, reviewerGroups: try tx.groupNames(of: claims.subject),
                channel: .link, now: now
            )
            let approvals = try currentApprovals(of: request, resource: resource, in: tx)
            var refusal: DecisionRefusal?
            do throws(DecisionRefusal) {
                _ = try DecisionPolicy.authorize(facts)
                try DecisionPolicy.checkFirstApproval(by: claims.subject, request: request, approvals: approvals)
            } catch {
                refusal = error
            }
            return LinkView(request: request, resource: resource, reviewer: reviewer, tokenUsed: used, refusal: refusal, approvals: approvals)
        }
    }

    /// The approvals of a request that needs several, for its pages: each judged with its
    /// reviewer's rights now, so that one who lost their right shows as no longer counting even
    /// before the next approval counts again. Empty for a request that needs one approval.
    public func approvals(of request: AccessRequest, for viewer: Viewer) async throws -> [RecordedApproval] {
        guard request.needsSeveralApprovals || request.approvalCount > 0, viewer.maySee(request) else { return [] }
        return try await storage.read { [self] tx in
            guard let resource = try tx.resource(named: request.resource) else { return [] }
            return try currentApprovals(of: request, resource: resource, in: tx)
        }
    }

    func currentApprovals(of request: AccessRequest, resource: Resource, in tx: any StoreTransaction) throws -> [RecordedApproval] {
        guard request.needsSeveralApprovals || request.approvalCount > 0 else { return [] }
        return try tx.approvals(requestID: request.id).map { approval in
            // A decided request keeps the standing it was decided with.
            guard request.state == .pending else { return approval }
            var current = approval
            current.voidReason = DecisionPolicy.standing(
                of: approval, reviewer: try tx.user(email: approval.reviewer), groups: try tx.groupNames(of: approval.reviewer),
                request: request, resource: resource
            )
            return current
        }
    }

    /// The active user with this address, if any (a sign-in link's page).
    public func activeUser(email: String) async throws -> User? {
        try await storage.read { tx in try tx.user(email: email).flatMap { $0.isActive ? $0 : nil } }
    }

    /// How many pending, unexpired requests the viewer may decide now (the bell): neither their
    /// own nor those they approved already.
    public func openRequestCount(for viewer: Viewer) async throws -> Int {
        let now = self.now
        return try await storage.read { try $0.openRequestCount(decidableBy: viewer.user.email, now: now) }
    }

    /// The Access Requests page: requests the viewer may review, newest first.
    public func reviewableRequests(for viewer: Viewer, filter: RequestFilter) async throws -> [AccessRequest] {
        try await storage.read { try $0.requests(reviewableBy: viewer.user.email, filter: filter) }
    }

    /// An admin page's list (a user's or a resource's requests): admin roles only.
    public func requestsForAdmin(_ viewer: Viewer, filter: RequestFilter) async throws -> [AccessRequest] {
        guard viewer.isAdminRole else { throw AccessDenied("only admin roles see other people's requests") }
        return try await storage.read { try $0.requests(filter) }
    }

    /// One page's list of requests and everything the page shows beside them, in one read: the
    /// people's names, which open requests the viewer has approved already, and the bell.
    ///
    /// - `.reviewable`: the requests the viewer may review (the Access Requests page);
    /// - `.everyone`: any request (a user's or a resource's admin page), admin roles only;
    /// - `.own`: the viewer's own requests, whatever `filter` names as requester.
    public func requestListing(_ scope: RequestListing.Scope, for viewer: Viewer, filter: RequestFilter) async throws -> RequestListing {
        var filter = filter
        switch scope {
        case .reviewable: break
        case .everyone:
            guard viewer.isAdminRole else { throw AccessDenied("only admin roles see other people's requests") }
        case .own: filter.requester = viewer.user.email
        }
        let now = self.now
        return try await storage.read { [filter] tx in
            let requests = scope == .reviewable ? try tx.requests(reviewableBy: viewer.user.email, filter: filter) : try tx.requests(filter)
            var people = Set<String>()
            for request in requests {
                people.insert(request.requester)
                if let reviewer = request.decision?.reviewer { people.insert(reviewer) }
            }
            let names = try Self.names(of: people, in: tx)
            var approved = Set<Int64>()
            for request in requests where scope != .own && request.approvalCount > 0 && request.isOpen(at: now) && viewer.maySee(request) {
                if try tx.approvals(requestID: request.id).contains(where: { $0.reviewer == viewer.user.email }) { approved.insert(request.id) }
            }
            let bell = viewer.mayReviewSomething ? try tx.openRequestCount(decidableBy: viewer.user.email, now: now) : 0
            return RequestListing(requests: requests, names: names, approvedByViewer: approved, openRequestCount: bell)
        }
    }

    /// A user's grants, for the admin User page.
    public func grants(of user: String, for viewer: Viewer) async throws -> [Grant] {
        guard viewer.isAdminRole || viewer.user.email == EmailAddress.normalize(user) else { throw AccessDenied("only admin roles see other people's grants") }
        return try await storage.read { try $0.grants(user: user) }
    }

    /// The grants of `resource` running now (admin roles).
    public func runningGrants(of resource: String, for viewer: Viewer) async throws -> [Grant] {
        guard viewer.isAdminRole else { throw AccessDenied("only admin roles see a resource's grants") }
        let now = self.now
        return try await storage.read { try $0.runningGrants(resource: resource, at: now) }
    }

    /// Notification preferences by email (admin-role users without a row use the default).
    public func notificationPreferences() async throws -> [String: NotificationPreferences] {
        try await storage.read { try $0.notificationPreferences() }
    }

    /// The counts behind `/metrics`.
    public func counts(latencyBounds: [Double]) async throws -> GatewayCounts {
        try await storage.read { try $0.gatewayCounts(latencyBounds: latencyBounds) }
    }

    /// Whether the database answers (`/healthz`).
    public func checkHealth() async throws {
        _ = try await storage.installationID()
    }
}

extension ApprovalService {
    /// Outgoing email for operators, oldest first.
    public func outboxEntries(status: OutboxStatus?, limit: Int) async throws -> [OutboxEntry] {
        try await storage.read { try $0.outboxEntries(status: status, limit: limit) }
    }
}

extension ApprovalService {
    /// Walks the audit log's hash chain (`audit verify`).
    public func verifyAuditChain() async throws -> AuditChainReport {
        try await storage.verifyAuditChain()
    }

    /// Audit records since an instant, oldest first, in pages (`audit export`).
    public func auditRecords(since: Date, afterID: Int64, limit: Int) async throws -> [AuditEntry] {
        try await storage.read { try $0.auditLog(since: since, afterID: afterID, limit: limit) }
    }
}

extension ApprovalService {
    /// The emails about a request that bounced after SMTP accepted them (LOOP-5), for its page:
    /// admin roles and the request's reviewers.
    public func bouncedNotifications(requestID: Int64, for viewer: Viewer) async throws -> [OutboxEntry] {
        guard try await request(id: requestID, by: .session(viewer)) != nil, viewer.mayReviewSomething else { return [] }
        return try await storage.read { try $0.outboxEntries(requestID: requestID) }.filter { $0.status == .bounced }
    }
}

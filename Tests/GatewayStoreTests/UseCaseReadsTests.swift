import Foundation
import GatewayApp
import GatewayCore
import GatewayTestSupport
import Testing

/// The reads a use case asks for at once (``UseCaseReads``) are exactly the single reads they stand
/// for, on both backends: the PostgreSQL store answers them with its own queued queries, and must
/// agree with the repositories' one-by-one reads in the same transaction.
@Suite struct UseCaseReadsTests {
    static let later = Fixture.start.addingTimeInterval(25 * 3600)

    /// Two requests (one overdue by ``later``), a lock, and the admin's preference for no
    /// new-request emails.
    static func gateway(_ backend: StoreBackend) async throws -> (TestGateway, overdue: AccessRequest, open: AccessRequest) {
        let gateway = try await Fixture.gateway(backend).gateway
        try await gateway.store.write { tx in
            try tx.saveNotificationPreferences(NotificationPreferences(newRequests: false, outcomes: true), for: "admin@example.test")
        }
        let overdue = try await gateway.createRequest(Fixture.newRequest("requester1@example.test"), now: Fixture.start)
        let open = try await gateway.createRequest(Fixture.newRequest("requester2@example.test", resource: "staging-web", duration: nil), now: later.addingTimeInterval(-60))
        _ = try await gateway.lock(user: "requester2@example.test", resource: "prod-db", now: Fixture.start)
        return (gateway, overdue, open)
    }

    /// ``UseCaseReads/openingFacts(requester:resource:now:)`` as the single reads give it.
    static func composedOpeningFacts(_ tx: any StoreTransaction, requester: String, resource name: String, now: Date) throws -> OpeningFacts {
        let resource = try tx.resource(named: name)
        let audience = try resource.map { resource in
            let groups = try tx.groups().filter { resource.approverGroups.contains($0.name) }
            return NewRequestAudience(
                groups: groups, users: try tx.users(emails: Set(groups.flatMap(\.members)), orRoles: AdminRole.reviewingEverything),
                preferences: try tx.notificationPreferences()
            )
        }
        return OpeningFacts(
            overdueRequestIDs: try tx.overdueRequestIDs(now: now, requester: requester, resource: name), resource: resource,
            requester: try tx.user(email: requester), lock: try tx.activeLock(user: requester, resource: name),
            pending: try tx.pendingRequest(requester: requester, resource: name), audience: audience
        )
    }

    @Test("Opening a request reads the overdue and pending requests, the requester, their lock, the resource and who hears of it, as the single reads do", arguments: StoreBackend.allCases)
    func openingFacts(backend: StoreBackend) async throws {
        let (gateway, overdue, _) = try await Self.gateway(backend)
        let later = Self.later
        // In a write, as the use case reads them (PostgreSQL locks the pending request's row).
        try await gateway.store.write { tx in
            let facts = try tx.openingFacts(requester: "Requester1@Example.test", resource: "prod-db", now: later)
            #expect(facts == (try Self.composedOpeningFacts(tx, requester: "requester1@example.test", resource: "prod-db", now: later)))
            #expect(facts.overdueRequestIDs == [overdue.id] && facts.pending?.id == overdue.id)
            #expect(facts.requester?.name == "Rita Requester" && facts.resource?.name == "prod-db" && facts.lock == nil)
            let audience = try #require(facts.audience)
            #expect(audience.groups == [Group(name: "db-approvers", members: ["approver1@example.test", "approver2@example.test"])])
            // The approver group's members and every admin-role user (admin, devops, access_reviewer).
            #expect(audience.users.map(\.email) == ["admin@example.test", "approver1@example.test", "approver2@example.test", "approver4@example.test"])
            #expect(audience.preferences == ["admin@example.test": NotificationPreferences(newRequests: false, outcomes: true)])
            #expect(try tx.newRequestAudience(for: #require(facts.resource)) == audience)

            let locked = try tx.openingFacts(requester: "requester2@example.test", resource: "prod-db", now: later)
            #expect(locked == (try Self.composedOpeningFacts(tx, requester: "requester2@example.test", resource: "prod-db", now: later)))
            #expect(locked.lock?.user == "requester2@example.test" && locked.pending == nil && locked.overdueRequestIDs.isEmpty)

            let unknown = try tx.openingFacts(requester: "nobody@example.test", resource: "no-such-resource", now: later)
            #expect(unknown == (try Self.composedOpeningFacts(tx, requester: "nobody@example.test", resource: "no-such-resource", now: later)))
            #expect(unknown.resource == nil && unknown.audience == nil && unknown.requester == nil)
        }
    }

    @Test("A decision reads the request, its resource, the reviewer with their groups and who hears of the outcome, as the single reads do", arguments: StoreBackend.allCases)
    func decisionFacts(backend: StoreBackend) async throws {
        let (gateway, _, open) = try await Self.gateway(backend)
        // In a write, as a decision reads them (PostgreSQL locks the request's row).
        try await gateway.store.write { tx in
            let facts = try #require(try tx.decisionFacts(requestID: open.id, reviewer: "Approver3@example.test"))
            let notified = try tx.notifiedRecipients(requestID: open.id)
            let audience = OutcomeAudience(
                notified: notified, users: try tx.users(emails: Set(notified), orRoles: AdminRole.reviewingEverything),
                preferences: try tx.notificationPreferences()
            )
            #expect(facts == DecisionFacts(
                request: try #require(try tx.request(id: open.id)), resource: try tx.resource(named: "staging-web"),
                reviewer: try tx.user(email: "approver3@example.test"), reviewerGroups: try tx.groupNames(of: "approver3@example.test"),
                audience: audience
            ))
            #expect(facts.reviewer?.name == "Amy Approver" && facts.reviewerGroups == ["web-approvers"])
            // The admin asked for no new-request emails, so was not notified; the admin is still in the audience's users.
            #expect(facts.audience.notified.contains("approver3@example.test") && !facts.audience.notified.contains("admin@example.test"))
            #expect(Set(facts.audience.users.map(\.email)) == Set(facts.audience.notified).union(["admin@example.test", "approver4@example.test"]))
            #expect(try tx.outcomeAudience(requestID: open.id) == audience)
            #expect(try tx.decisionFacts(requestID: open.id + 1000, reviewer: "approver3@example.test") == nil)
        }
    }

    @Test("AUTHZ-4: the claim returns the request as it decided it, and nothing to the loser", arguments: StoreBackend.allCases)
    func claimReturnsDecided(backend: StoreBackend) async throws {
        let (gateway, _, open) = try await Self.gateway(backend)
        let now = Self.later
        let (won, lost) = try await gateway.store.write { tx in
            (
                try tx.claimDecision(requestID: open.id, action: .deny, reviewer: "approver3@example.test", channel: .web, comment: "not now", now: now),
                try tx.claimDecision(requestID: open.id, action: .approve, reviewer: "approver3@example.test", channel: .web, comment: nil, now: now)
            )
        }
        let decided = try #require(won)
        #expect(lost == nil)
        #expect(decided.state == .denied && decided.decision?.reviewer == "approver3@example.test" && decided.decision?.comment == "not now")
        #expect(decided == (try await gateway.store.read { tx in try tx.request(id: open.id) }))
    }

    @Test("AUDIT-3: an audit record is appended only in a write transaction", arguments: StoreBackend.allCases)
    func auditOnlyInWrites(backend: StoreBackend) async throws {
        let gateway = try await Fixture.gateway(backend).gateway
        await #expect(throws: (any Error).self) {
            try await gateway.store.read { tx in
                try tx.appendAudit(AuditEntry(at: Fixture.start, action: .create, actor: "admin@example.test", outcome: .accepted))
            }
        }
        #expect(try await gateway.store.verifyAuditChain().firstBroken == nil)
    }
}

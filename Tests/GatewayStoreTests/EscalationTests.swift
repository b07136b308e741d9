import Foundation
import GatewayApp
import GatewayCore
import GatewayTestSupport
import Testing

/// Escalation of requests left pending (`escalate_after`, `escalation_groups`) on both backends.
@Suite struct EscalationTests {
    /// `paged-db` escalates after 2 hours to web-approvers (approver3); `quiet-db` after 1 hour
    /// to the admin roles (no escalation groups named).
    static func gateway(_ backend: StoreBackend) async throws -> (gateway: TestGateway, location: String) {
        let made = try await backend.makeStore()
        let gateway = try TestGateway(store: made.store, clock: TestClock(Fixture.start))
        var directory = Fixture.directory
        directory.resources += [
            Resource(name: "paged-db", approverGroups: ["db-approvers"], pendingTTL: 8 * 3600, escalateAfterSeconds: 7200, escalationGroups: ["web-approvers"]),
            Resource(name: "quiet-db", approverGroups: ["db-approvers"], escalateAfterSeconds: 3600),
        ]
        _ = try await gateway.syncDirectory(directory, now: Fixture.start)
        return (gateway, made.location)
    }

    func escalate(_ gateway: TestGateway, at instant: Date) async throws -> [Int64] {
        gateway.clock.set(instant)
        return try await gateway.service.escalateOverdueRequests()
    }

    @Test("AUTHZ-9: a request still pending at escalate_after goes once to the escalation group, who may decide it from then on; the first reviewers and the requester are told", arguments: StoreBackend.allCases)
    func escalatesOnce(backend: StoreBackend) async throws {
        let gateway = try await Self.gateway(backend).gateway
        let request = try await gateway.createRequest(Fixture.newRequest(resource: "paged-db", duration: 3600), now: Fixture.start)

        // AUTHZ-2: before the escalation, the escalation group has no right.
        let early = try await gateway.decide(DecisionAttempt(requestID: request.id, reviewer: "approver3@example.test", action: .approve, channel: .web), now: Fixture.start.addingTimeInterval(600))
        #expect(early.refusalCode == .notAllowed)
        #expect(try await escalate(gateway, at: Fixture.start.addingTimeInterval(7199)).isEmpty)

        #expect(try await escalate(gateway, at: Fixture.start.addingTimeInterval(7200)) == [request.id])
        #expect(try await escalate(gateway, at: Fixture.start.addingTimeInterval(7300)).isEmpty, "escalated once")
        let stored = try #require(try await gateway.store.request(id: request.id))
        #expect(stored.escalatedAt == Fixture.start.addingTimeInterval(7200))
        let outbox = try await gateway.store.read { try $0.outboxEntries(requestID: request.id) }
        let escalated = outbox.filter { $0.kind == .escalated }
        #expect(escalated.map(\.recipient) == ["approver3@example.test"])
        #expect(escalated.first?.reason == "escalation:web-approvers" && escalated.first?.context["escalate_after_seconds"] == "7200")
        #expect(outbox.filter { $0.kind == .escalationNotice }.map(\.recipient).sorted() == ["admin@example.test", "approver1@example.test", "approver2@example.test", "approver4@example.test", "requester1@example.test"])
        let audit = try #require(try await gateway.store.auditLog(requestID: request.id).first { $0.action == .escalate })
        #expect(audit.outcome == .accepted && audit.actor == nil && audit.detail["escalated_to"] == "approver3@example.test")

        // The escalation reviewer sees it and decides it now, with the escalation right.
        let viewer = try await gateway.viewer("approver3@example.test")
        #expect(try await gateway.service.request(id: request.id, by: .session(viewer)) != nil)
        #expect(try await gateway.service.reviewableRequests(for: viewer, filter: RequestFilter()).map(\.id).contains(request.id))
        gateway.clock.set(Fixture.start.addingTimeInterval(7400))
        let decided = try await gateway.service.decide(DecisionCommand(requestID: request.id, action: .approve, proof: .session(viewer)))
        guard case .decided(let approved, _, let right) = decided else { return #expect(Bool(false), "\(decided)") }
        #expect(approved.state == .approved && right == .escalationGroup("web-approvers"))
        // Outcome emails reach the escalation reviewers' side too: they were notified.
        #expect(try await gateway.store.read { try $0.notifiedRecipients(requestID: request.id) }.contains("approver3@example.test"))
    }

    @Test("Without escalation groups the admin roles get the escalation; a decided or expired request is never escalated", arguments: StoreBackend.allCases)
    func defaultsAndResolved(backend: StoreBackend) async throws {
        let gateway = try await Self.gateway(backend).gateway
        let open = try await gateway.createRequest(Fixture.newRequest(resource: "quiet-db", duration: 3600), now: Fixture.start)
        let decided = try await gateway.createRequest(Fixture.newRequest("requester2@example.test", resource: "quiet-db", duration: 3600), now: Fixture.start)
        _ = try await gateway.decide(DecisionAttempt(requestID: decided.id, reviewer: "approver1@example.test", action: .deny, channel: .web), now: Fixture.start.addingTimeInterval(60))
        #expect(try await escalate(gateway, at: Fixture.start.addingTimeInterval(3600)) == [open.id])
        let escalated = try await gateway.store.read { try $0.outboxEntries(requestID: open.id) }.filter { $0.kind == .escalated }
        #expect(escalated.map(\.recipient).sorted() == ["admin@example.test", "approver4@example.test"])
        #expect(escalated.allSatisfy { $0.reason.hasPrefix("role:") })
        #expect(try await gateway.store.request(id: decided.id)?.escalatedAt == nil)
    }

    @Test("AUTHZ-9: two sweeps at once (two connections) escalate each request once", arguments: StoreBackend.allCases)
    func concurrentSweeps(backend: StoreBackend) async throws {
        let (gateway, location) = try await Self.gateway(backend)
        let other = try await backend.reopen(location, like: gateway)
        var ids: [Int64] = []
        for index in 0..<5 {
            let requester = ["requester1@example.test", "requester2@example.test", "approver5@example.test", "support@example.test", "approver3@example.test"][index]
            ids.append(try await gateway.createRequest(Fixture.newRequest(requester, resource: "paged-db", duration: 3600), now: Fixture.start).id)
        }
        gateway.clock.set(Fixture.start.addingTimeInterval(7200))
        async let first = gateway.service.escalateOverdueRequests()
        async let second = other.service.escalateOverdueRequests()
        let (a, b) = try await (first, second)
        #expect((a + b).sorted() == ids.sorted())
        #expect(Set(a).isDisjoint(with: b))
        for id in ids {
            let entries = try await gateway.store.read { try $0.outboxEntries(requestID: id) }
            #expect(entries.filter { $0.kind == .escalated }.count == (id == ids[4] ? 0 : 1), "request \(id)")
            #expect(try await gateway.store.auditLog(requestID: id).filter { $0.action == .escalate }.count == 1)
        }
    }
}

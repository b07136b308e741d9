import Foundation
import GatewayCore
import GatewayApp
import GatewayStore
import GatewayTestSupport
import Testing

/// The store conformance suite for decisions: every accepted path and every refusal of the one
/// decision function, with its side effects, against each backend.
@Suite struct DecisionStoreTests {
    let later = Fixture.start.addingTimeInterval(600)

    @Test("Approving a JIT request creates a grant ending after the requested duration", arguments: StoreBackend.allCases)
    func approveCreatesGrant(backend: StoreBackend) async throws {
        let gateway = try await Fixture.gateway(backend).gateway
        let store = gateway.store
        let request = try await gateway.createRequest(Fixture.newRequest(duration: 4 * 3600), now: Fixture.start)
        #expect(request.state == .pending)
        #expect(request.expiresAt == Fixture.start.addingTimeInterval(24 * 3600))

        let outcome = try await gateway.decide(
            DecisionAttempt(requestID: request.id, reviewer: "Approver1@example.test", action: .approve, channel: .cli, comment: "  on call  "),
            now: later
        )
        guard case .decided(let decided, let grant, let right) = outcome else {
            Issue.record("expected a decision, got \(outcome)")
            return
        }
        #expect(decided.state == .approved)
        #expect(decided.decision == Decision(reviewer: "approver1@example.test", action: .approve, decidedAt: later, channel: .cli, comment: "on call"))
        #expect(right == .approverGroup("db-approvers"))
        #expect(grant?.endsAt == later.addingTimeInterval(4 * 3600))

        let during = try await store.accessStatus(user: "requester1@example.test", resource: "prod-db", at: later.addingTimeInterval(3600))
        #expect(during.isAllowed)
        let after = try await store.accessStatus(user: "requester1@example.test", resource: "prod-db", at: later.addingTimeInterval(4 * 3600))
        #expect(!after.isAllowed)
    }

    @Test("Denying records the decision and creates no grant", arguments: StoreBackend.allCases)
    func denyCreatesNoGrant(backend: StoreBackend) async throws {
        let gateway = try await Fixture.gateway(backend).gateway
        let store = gateway.store
        let request = try await gateway.createRequest(Fixture.newRequest(), now: Fixture.start)
        let outcome = try await gateway.decide(DecisionAttempt(requestID: request.id, reviewer: "admin@example.test", action: .deny, channel: .web, comment: "not now"), now: later)
        guard case .decided(let decided, let grant, let right) = outcome else {
            Issue.record("expected a decision, got \(outcome)")
            return
        }
        #expect(decided.state == .denied)
        #expect(decided.decision?.comment == "not now")
        #expect(grant == nil)
        #expect(right == .role(.admin))
        #expect(try await !store.accessStatus(user: "requester1@example.test", resource: "prod-db", at: later).isAllowed)
    }

    @Test("Approving an unlock request lifts the lock", arguments: StoreBackend.allCases)
    func approveUnlock(backend: StoreBackend) async throws {
        let gateway = try await Fixture.gateway(backend).gateway
        let store = gateway.store
        _ = try await gateway.lock(user: "requester1@example.test", resource: "prod-db", now: Fixture.start)
        let request = try await gateway.createRequest(Fixture.newRequest(duration: nil), now: Fixture.start)
        #expect(request.kind == .unlock)
        #expect(request.durationSeconds == nil)
        let outcome = try await gateway.decide(DecisionAttempt(requestID: request.id, reviewer: "approver2@example.test", action: .approve, channel: .cli), now: later)
        #expect(outcome.decidedRequest?.state == .approved)
        let status = try await store.accessStatus(user: "requester1@example.test", resource: "prod-db", at: later)
        #expect(status.lock == nil)
        // With the lock lifted, the next request is an ordinary JIT request.
        let next = try await gateway.createRequest(Fixture.newRequest(), now: later)
        #expect(next.kind == .jit)
    }

    struct RefusalCase: Sendable, CustomTestStringConvertible {
        var reviewer: String
        var expected: DecisionRefusal.Code
        var testDescription: String { "\(reviewer) → \(expected.rawValue)" }
    }

    @Test("Refused reviewers change nothing (AUTHZ-1, AUTHZ-2)", arguments: StoreBackend.allCases, [
        RefusalCase(reviewer: "requester1@example.test", expected: .selfDecision),
        RefusalCase(reviewer: "approver3@example.test", expected: .notAllowed),
        RefusalCase(reviewer: "approver5@example.test", expected: .notAllowed),
        RefusalCase(reviewer: "support@example.test", expected: .notAllowed),
        RefusalCase(reviewer: "stranger@example.test", expected: .unknownReviewer),
    ])
    func refusedReviewers(backend: StoreBackend, testCase: RefusalCase) async throws {
        let gateway = try await Fixture.gateway(backend).gateway
        let store = gateway.store
        let request = try await gateway.createRequest(Fixture.newRequest(), now: Fixture.start)
        let outcome = try await gateway.decide(DecisionAttempt(requestID: request.id, reviewer: testCase.reviewer, action: .approve, channel: .reply), now: later)
        #expect(outcome.refusalCode == testCase.expected)
        #expect(try await store.request(id: request.id)?.state == .pending)
        #expect(try await store.accessStatus(user: "requester1@example.test", resource: "prod-db", at: later).grant == nil)
    }

    @Test("AUTHZ-1: an admin who requested access cannot approve it", arguments: StoreBackend.allCases)
    func adminSelfApproval(backend: StoreBackend) async throws {
        let gateway = try await Fixture.gateway(backend).gateway
        let store = gateway.store
        let request = try await gateway.createRequest(Fixture.newRequest("admin@example.test"), now: Fixture.start)
        for channel in DecisionChannel.allCases {
            let outcome = try await gateway.decide(DecisionAttempt(requestID: request.id, reviewer: "admin@example.test", action: .approve, channel: channel), now: later)
            #expect(outcome.refusalCode == .selfDecision)
        }
        #expect(try await store.request(id: request.id)?.state == .pending)
    }

    @Test("AUTHZ-3: a decided request cannot change; the refusal names who decided", arguments: StoreBackend.allCases)
    func secondDecision(backend: StoreBackend) async throws {
        let gateway = try await Fixture.gateway(backend).gateway
        let request = try await gateway.createRequest(Fixture.newRequest(), now: Fixture.start)
        _ = try await gateway.decide(DecisionAttempt(requestID: request.id, reviewer: "approver1@example.test", action: .approve, channel: .reply), now: later)
        let second = try await gateway.decide(DecisionAttempt(requestID: request.id, reviewer: "approver2@example.test", action: .deny, channel: .link), now: later)
        guard case .refused(let refusal, let current) = second else {
            Issue.record("second decision was accepted")
            return
        }
        #expect(refusal.code == .notPending)
        #expect(refusal.decidedBy == "approver1@example.test")
        #expect(current?.state == .approved)
    }

    @Test("AUTHZ-3: cancelled and expired requests cannot be decided", arguments: StoreBackend.allCases)
    func cancelledAndExpired(backend: StoreBackend) async throws {
        let gateway = try await Fixture.gateway(backend).gateway
        let store = gateway.store
        let cancelled = try await gateway.createRequest(Fixture.newRequest(), now: Fixture.start)
        _ = try await gateway.cancelRequest(id: cancelled.id, requester: "requester1@example.test", now: later)
        #expect(try await gateway.decide(DecisionAttempt(requestID: cancelled.id, reviewer: "admin@example.test", action: .approve, channel: .cli), now: later).refusalCode == .notPending)

        let expiring = try await gateway.createRequest(Fixture.newRequest(), now: later)
        let afterDeadline = expiring.expiresAt.addingTimeInterval(1)
        let outcome = try await gateway.decide(DecisionAttempt(requestID: expiring.id, reviewer: "admin@example.test", action: .approve, channel: .cli), now: afterDeadline)
        #expect(outcome.refusalCode == .pastDeadline)
        // The refusal also records the expiry, so the request shows what happened.
        #expect(try await store.request(id: expiring.id)?.state == .expired)
        #expect(try await gateway.decide(DecisionAttempt(requestID: expiring.id, reviewer: "admin@example.test", action: .approve, channel: .cli), now: afterDeadline).refusalCode == .notPending)
    }

    @Test("An unknown request is refused and audited", arguments: StoreBackend.allCases)
    func unknownRequest(backend: StoreBackend) async throws {
        let gateway = try await Fixture.gateway(backend).gateway
        let store = gateway.store
        let outcome = try await gateway.decide(DecisionAttempt(requestID: 999, reviewer: "admin@example.test", action: .approve, channel: .api), now: later)
        #expect(outcome.refusalCode == .unknownRequest)
        #expect(try await store.auditLog(requestID: 999).map(\.outcome) == [.refused])
    }

    @Test("AUTHZ-2: a reviewer removed from the approver group after the request cannot decide", arguments: StoreBackend.allCases)
    func membershipRemovedBeforeDecision(backend: StoreBackend) async throws {
        let gateway = try await Fixture.gateway(backend).gateway
        let request = try await gateway.createRequest(Fixture.newRequest(), now: Fixture.start)
        var directory = Fixture.directory
        directory.groups[0].members.remove("approver1@example.test")
        let report = try await gateway.syncDirectory(directory, now: later)
        #expect(report.groupsUpdated == 1)
        let outcome = try await gateway.decide(DecisionAttempt(requestID: request.id, reviewer: "approver1@example.test", action: .approve, channel: .reply), now: later)
        #expect(outcome.refusalCode == .notAllowed)
        // The remaining member still can.
        let other = try await gateway.decide(DecisionAttempt(requestID: request.id, reviewer: "approver2@example.test", action: .approve, channel: .reply), now: later)
        #expect(other.decidedRequest?.decision?.reviewer == "approver2@example.test")
    }

    @Test("A user removed from the directory loses review rights, even an admin", arguments: StoreBackend.allCases)
    func deactivatedAdmin(backend: StoreBackend) async throws {
        let gateway = try await Fixture.gateway(backend).gateway
        let request = try await gateway.createRequest(Fixture.newRequest(), now: Fixture.start)
        var directory = Fixture.directory
        directory.users.removeAll { $0.email == "admin@example.test" }
        #expect(try await gateway.syncDirectory(directory, now: later).usersDeactivated == 1)
        let outcome = try await gateway.decide(DecisionAttempt(requestID: request.id, reviewer: "admin@example.test", action: .approve, channel: .web), now: later)
        #expect(outcome.refusalCode == .unknownReviewer)
    }

    @Test("AUDIT-1: every attempt, accepted or refused, is in the audit log with channel, reason and evidence", arguments: StoreBackend.allCases)
    func auditEveryAttempt(backend: StoreBackend) async throws {
        let gateway = try await Fixture.gateway(backend).gateway
        let store = gateway.store
        let request = try await gateway.createRequest(Fixture.newRequest(), now: Fixture.start)
        _ = try await gateway.decide(DecisionAttempt(requestID: request.id, reviewer: "approver3@example.test", action: .approve, channel: .reply, evidence: ["message_id": "<a@x>"]), now: later)
        _ = try await gateway.decide(DecisionAttempt(requestID: request.id, reviewer: "approver1@example.test", action: .deny, channel: .link, evidence: ["nonce_sha256": "abc"]), now: later)
        _ = try await gateway.decide(DecisionAttempt(requestID: request.id, reviewer: "approver2@example.test", action: .approve, channel: .web), now: later)
        let log = try await store.auditLog(requestID: request.id).filter { $0.action == .decide }
        #expect(log.map(\.outcome) == [.refused, .accepted, .refused])
        #expect(log.map(\.reason) == ["not_allowed", "group:db-approvers", "not_pending"])
        #expect(log.map(\.channel) == [.reply, .link, .web])
        #expect(log[0].detail["message_id"] == "a@x")
        #expect(log[1].detail["nonce_sha256"] == "abc")
        #expect(log.map(\.actor) == ["approver3@example.test", "approver1@example.test", "approver2@example.test"])
    }
}

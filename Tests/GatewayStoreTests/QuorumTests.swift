import Foundation
import GatewayApp
import GatewayCore
import GatewayTestSupport
import Testing

/// Two-person approval (`approvals_required: 2`) on both backends, through every channel.
@Suite struct QuorumTests {
    /// `two-key-db` needs two of its four eligible reviewers: admin, approver4 (access_reviewer),
    /// approver1 and approver2 (db-approvers).
    static func gateway(_ backend: StoreBackend) async throws -> (gateway: TestGateway, location: String) {
        let made = try await backend.makeStore()
        let gateway = try TestGateway(store: made.store, clock: TestClock(Fixture.start))
        var directory = Fixture.directory
        directory.resources.append(Resource(
            name: "two-key-db", approverGroups: ["db-approvers"], allowedDurations: [3600, 4 * 3600], approvalsRequired: 2
        ))
        _ = try await gateway.syncDirectory(directory, now: Fixture.start)
        return (gateway, made.location)
    }

    static func open(_ gateway: TestGateway, requester: String = "requester1@example.test", at instant: Date = Fixture.start) async throws -> AccessRequest {
        try await gateway.createRequest(Fixture.newRequest(requester, resource: "two-key-db"), now: instant)
    }

    let t1 = Fixture.start.addingTimeInterval(60)
    let t2 = Fixture.start.addingTimeInterval(120)
    let t3 = Fixture.start.addingTimeInterval(180)

    @Test("AUTHZ-4: the first approval leaves the request pending at 1 of 2 and tells the thread; a second reviewer's approval decides it", arguments: StoreBackend.allCases)
    func twoApprovalsDecide(backend: StoreBackend) async throws {
        let gateway = try await Self.gateway(backend).gateway
        let request = try await Self.open(gateway)
        #expect(request.approvalsRequired == 2 && request.approvalCount == 0)

        let first = try await gateway.decide(DecisionAttempt(requestID: request.id, reviewer: "approver1@example.test", action: .approve, channel: .reply, comment: "looks fine"), now: t1)
        guard case .approvalRecorded(let pending, _) = first else { return #expect(Bool(false), "first approval: \(first)") }
        #expect(pending.state == .pending && pending.approvalCount == 1)
        #expect(try await gateway.store.read { try $0.grant(requestID: request.id) } == nil)
        let told = try await gateway.store.read { try $0.outboxEntries(requestID: request.id) }.filter { $0.kind == .approvalRecorded }
        // The requester and everyone notified but the approver, in the request's thread.
        #expect(told.map(\.recipient).sorted() == ["admin@example.test", "approver2@example.test", "approver4@example.test", "requester1@example.test"])
        #expect(told.allSatisfy { $0.context["approved_by"] == "approver1@example.test" && $0.context["approvals"] == "1" && $0.context["approvals_required"] == "2" })
        let partial = try await gateway.store.auditLog(requestID: request.id).filter { $0.action == .approve }
        #expect(partial.count == 1 && partial.first?.outcome == .accepted && partial.first?.detail["approvals"] == "1 of 2")

        let second = try await gateway.decide(DecisionAttempt(requestID: request.id, reviewer: "approver2@example.test", action: .approve, channel: .web), now: t2)
        guard case .decided(let decided, let grant?, _) = second else { return #expect(Bool(false), "second approval: \(second)") }
        #expect(decided.state == .approved && decided.decision?.reviewer == "approver2@example.test" && decided.approvalCount == 2)
        #expect(grant.endsAt == t2.addingTimeInterval(4 * 3600))
        let decide = try #require(try await gateway.store.auditLog(requestID: request.id).last { $0.action == .decide })
        #expect(decide.outcome == .accepted && decide.detail["approvals"] == "2 of 2")
        #expect(decide.detail["approvers"] == "approver1@example.test,approver2@example.test")
        let outcome = try await gateway.store.read { try $0.outboxEntries(requestID: request.id) }.filter { $0.kind == .decided }
        #expect(outcome.first { $0.recipient == "requester1@example.test" }?.context["approvers"] == "approver1@example.test, approver2@example.test")
    }

    @Test("A second approval by the same reviewer, through another channel, is refused (already_approved) and counts once", arguments: StoreBackend.allCases)
    func sameReviewerCountsOnce(backend: StoreBackend) async throws {
        let gateway = try await Self.gateway(backend).gateway
        let request = try await Self.open(gateway)
        _ = try await gateway.decide(DecisionAttempt(requestID: request.id, reviewer: "approver1@example.test", action: .approve, channel: .reply), now: t1)
        for channel in [DecisionChannel.link, .web, .api, .cli, .reply] {
            let again = try await gateway.decide(DecisionAttempt(requestID: request.id, reviewer: "approver1@example.test", action: .approve, channel: channel), now: t2)
            #expect(again.refusalCode == .alreadyApproved, "\(channel)")
        }
        let stored = try #require(try await gateway.store.request(id: request.id))
        #expect(stored.state == .pending && stored.approvalCount == 1)
        let refusals = try await gateway.store.auditLog(requestID: request.id).filter { $0.action == .decide && $0.outcome == .refused && $0.reason == "already_approved" }
        #expect(refusals.count == 5)
    }

    @Test("One deny from an eligible reviewer after an approval denies at once", arguments: StoreBackend.allCases)
    func denyAfterApproval(backend: StoreBackend) async throws {
        let gateway = try await Self.gateway(backend).gateway
        let request = try await Self.open(gateway)
        _ = try await gateway.decide(DecisionAttempt(requestID: request.id, reviewer: "approver1@example.test", action: .approve, channel: .reply), now: t1)
        let deny = try await gateway.decide(DecisionAttempt(requestID: request.id, reviewer: "approver4@example.test", action: .deny, channel: .api, comment: "not during the freeze"), now: t2)
        #expect(deny.decidedRequest?.state == .denied)
        #expect(try await gateway.store.read { try $0.grant(requestID: request.id) } == nil)
        let late = try await gateway.decide(DecisionAttempt(requestID: request.id, reviewer: "approver2@example.test", action: .approve, channel: .web), now: t3)
        #expect(late.refusalCode == .notPending)
    }

    @Test("AUTHZ-1: the requester never counts, even as a member of the approver group", arguments: StoreBackend.allCases)
    func requesterNeverCounts(backend: StoreBackend) async throws {
        let gateway = try await Self.gateway(backend).gateway
        let request = try await Self.open(gateway, requester: "approver2@example.test")
        let own = try await gateway.decide(DecisionAttempt(requestID: request.id, reviewer: "approver2@example.test", action: .approve, channel: .web), now: t1)
        #expect(own.refusalCode == .selfDecision)
        #expect(try await gateway.store.request(id: request.id)?.approvalCount == 0)
    }

    @Test("AUTHZ-2: someone removed from the approver group after approving no longer counts, and the request says so", arguments: StoreBackend.allCases)
    func removedApproverNoLongerCounts(backend: StoreBackend) async throws {
        let gateway = try await Self.gateway(backend).gateway
        let request = try await Self.open(gateway)
        _ = try await gateway.decide(DecisionAttempt(requestID: request.id, reviewer: "approver1@example.test", action: .approve, channel: .link), now: t1)
        // approver1 leaves db-approvers; the pages say so at once, before anyone approves again.
        try await gateway.setGroupMembers(["approver2@example.test", "approver5@example.test"], group: "db-approvers", now: t1)
        let shown = try await gateway.service.approvals(of: try #require(try await gateway.store.request(id: request.id)), for: try await gateway.viewer("admin@example.test"))
        #expect(shown.first?.voidReason == "approver1@example.test is no longer a reviewer of two-key-db")

        let second = try await gateway.decide(DecisionAttempt(requestID: request.id, reviewer: "approver2@example.test", action: .approve, channel: .web), now: t2)
        guard case .approvalRecorded(let pending, _) = second else { return #expect(Bool(false), "\(second)") }
        #expect(pending.approvalCount == 1)
        let stored = try await gateway.store.read { try $0.approvals(requestID: request.id) }
        #expect(stored.first { $0.reviewer == "approver1@example.test" }?.voidReason != nil)
        #expect(stored.first { $0.reviewer == "approver2@example.test" }?.counts == true)
        let audit = try #require(try await gateway.store.auditLog(requestID: request.id).last { $0.action == .approve })
        #expect(audit.detail["no_longer_counted"] == "approver1@example.test")

        let third = try await gateway.decide(DecisionAttempt(requestID: request.id, reviewer: "admin@example.test", action: .approve, channel: .cli), now: t3)
        #expect(third.decidedRequest?.state == .approved)
    }

    @Test("AUTHZ-8: under a quorum the shortest grant any counted approver chose wins", arguments: StoreBackend.allCases)
    func shortestGrantWins(backend: StoreBackend) async throws {
        let gateway = try await Self.gateway(backend).gateway
        let request = try await Self.open(gateway)
        gateway.clock.set(t1)
        let first = try await gateway.service.decide(DecisionCommand(requestID: request.id, action: .approve, proof: .cli(reviewer: "approver1@example.test"), grantSeconds: 3600))
        guard case .approvalRecorded = first else { return #expect(Bool(false), "\(first)") }
        gateway.clock.set(t2)
        let second = try await gateway.service.decide(DecisionCommand(requestID: request.id, action: .approve, proof: .cli(reviewer: "approver2@example.test"), grantSeconds: 2 * 3600))
        guard case .decided(_, let grant?, _) = second else { return #expect(Bool(false), "\(second)") }
        #expect(grant.endsAt == t2.addingTimeInterval(3600))
    }

    @Test("AUTHZ-4: 12 concurrent approvals from 4 reviewers on two connections, 10 times: exactly 2 counted, one decision, one grant", arguments: StoreBackend.allCases)
    func concurrentApprovals(backend: StoreBackend) async throws {
        let (gateway, location) = try await Self.gateway(backend)
        let other = try await backend.reopen(location, like: gateway)
        let reviewers = ["admin@example.test", "approver1@example.test", "approver2@example.test", "approver4@example.test"]
        for round in 0..<10 {
            let now = Fixture.start.addingTimeInterval(Double(round) * 60)
            let request = try await Self.open(gateway, requester: round.isMultiple(of: 2) ? "requester1@example.test" : "requester2@example.test", at: now)
            let outcomes = try await withThrowingTaskGroup(of: DecisionOutcome.self) { group in
                for attempt in 0..<12 {
                    let target = attempt.isMultiple(of: 2) ? gateway : other
                    let reviewer = reviewers[attempt % reviewers.count]
                    let channel: DecisionChannel = [.web, .reply, .link, .api][(attempt / 4) % 4]
                    group.addTask {
                        try await target.decide(DecisionAttempt(requestID: request.id, reviewer: reviewer, action: .approve, channel: channel), now: now.addingTimeInterval(1))
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let recorded = outcomes.filter { if case .approvalRecorded = $0 { true } else { false } }
            #expect(outcomes.compactMap(\.decidedRequest).count == 1, "round \(round)")
            #expect(recorded.count == 1, "round \(round)")
            #expect(outcomes.filter { [.alreadyApproved, .notPending].contains($0.refusalCode) }.count == 10, "round \(round)")
            let approvals = try await gateway.store.read { try $0.approvals(requestID: request.id) }
            #expect(approvals.count == 2, "round \(round)")
            #expect(Set(approvals.map(\.reviewer)).count == 2)
            let stored = try #require(try await gateway.store.request(id: request.id))
            #expect(stored.state == .approved && stored.approvalCount == 2)
            let log = try await gateway.store.auditLog(requestID: request.id)
            #expect(log.filter { $0.action == .decide && $0.outcome == .accepted }.count == 1)
            #expect(log.filter { $0.action == .approve && $0.outcome == .accepted }.count == 1)
            #expect(try await gateway.store.accessStatus(user: stored.requester, resource: "two-key-db", at: now.addingTimeInterval(2)).grant?.requestID == request.id)
        }
    }

    @Test("The reminder before the deadline skips the reviewer who already approved", arguments: StoreBackend.allCases)
    func reminderSkipsApprovers(backend: StoreBackend) async throws {
        let gateway = try await Self.gateway(backend).gateway
        let request = try await Self.open(gateway)
        _ = try await gateway.decide(DecisionAttempt(requestID: request.id, reviewer: "approver1@example.test", action: .approve, channel: .web), now: t1)
        #expect(try await gateway.sendReminders(now: request.expiresAt.addingTimeInterval(-1800), lead: 3600) == [request.id])
        let reminded = try await gateway.store.read { try $0.outboxEntries(requestID: request.id) }.filter { $0.kind == .reminder }.map(\.recipient).sorted()
        #expect(reminded == ["admin@example.test", "approver2@example.test", "approver4@example.test"])
    }

    @Test("An edit of approvers or members that leaves fewer possible approvers than approvals_required is refused and changes nothing", arguments: StoreBackend.allCases)
    func quorumStaysReachable(backend: StoreBackend) async throws {
        let gateway = try await Self.gateway(backend).gateway
        var directory = Fixture.directory
        directory.resources.append(Resource(name: "three-key-db", approverGroups: ["db-approvers"], approvalsRequired: 3))
        _ = try await gateway.syncDirectory(directory, now: t1)
        await #expect(throws: DirectoryEditError.self) {
            _ = try await gateway.service.setApproverGroups([], resource: "three-key-db", by: .cli)
        }
        await #expect(throws: DirectoryEditError.self) {
            try await gateway.setGroupMembers([], group: "db-approvers", now: t2)
        }
        #expect(try await gateway.store.resource(named: "three-key-db")?.approverGroups == ["db-approvers"])
        #expect(try await gateway.store.groups().first { $0.name == "db-approvers" }?.members.count == 2)
    }
}

import Foundation
import GatewayApp
import GatewayCore
import GatewayTestSupport
import GatewayMail
import Logging
import Testing

/// Expiry, reminders, grants ending and auto-lock, driven by an injected clock (AUTHZ-5).
@Suite struct SweeperTests {
    @Test("A pending request expires at its deadline and the requester is told; one reminder goes out before")
    func expiryAndReminder() async throws {
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        let clock = TestClock(start)
        let fixture = try await GatewayFixture(now: start, clock: clock)
        let sweeper = Sweeper(service: fixture.gateway.service, policy: .init(interval: .seconds(1), reminderLead: 3600), logger: Logger(label: "test"))
        let request = try await fixture.gateway.createRequest(NewAccessRequest(requester: "requester1@example.test", resource: "prod-db", reason: "x"), now: start)
        try await sweeper.sweepOnce()
        #expect(try await fixture.store.outboxEntries(status: nil, limit: 100).filter { $0.kind == .reminder }.isEmpty)
        clock.advance(by: 23 * 3600)
        try await sweeper.sweepOnce()
        try await sweeper.sweepOnce()
        let reminders = try await fixture.store.outboxEntries(status: nil, limit: 100).filter { $0.kind == .reminder }
        #expect(reminders.map(\.recipient).sorted() == ["admin@example.test", "approver1@example.test", "approver2@example.test", "requester3@example.test"])
        clock.advance(by: 3600)
        try await sweeper.sweepOnce()
        #expect(try await fixture.store.request(id: request.id)?.state == .expired)
        let expired = try await fixture.store.outboxEntries(status: nil, limit: 100).filter { $0.kind == .expired }
        #expect(expired.contains { $0.recipient == "requester1@example.test" })
        // The expired email renders for the requester.
        let email = try await fixture.renderer.render(try #require(expired.first { $0.recipient == "requester1@example.test" }), now: clock.now)
        #expect(String(decoding: email.raw, as: UTF8.self).contains("expired"))
    }

    @Test("A grant ends on time")
    func grantEnds() async throws {
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        let fixture = try await GatewayFixture(now: start)
        let request = try await fixture.gateway.createRequest(NewAccessRequest(requester: "requester1@example.test", resource: "prod-db", reason: "x", durationSeconds: 3600), now: start)
        _ = try await fixture.gateway.decide(DecisionAttempt(requestID: request.id, reviewer: "approver1@example.test", action: .approve, channel: .cli), now: start)
        #expect(try await fixture.store.accessStatus(user: "requester1@example.test", resource: "prod-db", at: start.addingTimeInterval(3599)).isAllowed)
        #expect(try await !fixture.store.accessStatus(user: "requester1@example.test", resource: "prod-db", at: start.addingTimeInterval(3600)).isAllowed)
    }

    @Test("The sweeper locks a user out of an auto-locking resource after its period without use, once")
    func sweeperAutoLocks() async throws {
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        let clock = TestClock(start)
        let fixture = try await GatewayFixture(now: start, clock: clock)
        let sweeper = Sweeper(service: fixture.gateway.service, policy: .init(interval: .seconds(1), reminderLead: nil), logger: Logger(label: "test"))
        try await fixture.gateway.recordUsage(user: "requester1@example.test", resource: "idle-app", now: start)
        clock.set(start.addingTimeInterval(86_400))
        try await sweeper.sweepOnce()
        #expect(try await fixture.store.accessStatus(user: "requester1@example.test", resource: "idle-app", at: clock.now).lock == nil)
        clock.set(start.addingTimeInterval(2 * 86_400 + 1))
        try await sweeper.sweepOnce()
        try await sweeper.sweepOnce()
        let lock = try #require(try await fixture.store.accessStatus(user: "requester1@example.test", resource: "idle-app", at: clock.now).lock)
        #expect(!lock.isLifted)
        #expect(try await fixture.store.auditLog(requestID: nil).filter { $0.action == .lock }.count == 1)
        // The next request is an unlock request.
        let unlock = try await fixture.gateway.createRequest(NewAccessRequest(requester: "requester1@example.test", resource: "idle-app", reason: "back"), now: clock.now)
        #expect(unlock.kind == .unlock)
    }

    @Test("A grant ends on time while the sweeper runs: access is refused from its end, and nothing is left to do")
    func grantEndsUnderTheSweeper() async throws {
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        let clock = TestClock(start)
        let fixture = try await GatewayFixture(now: start, clock: clock)
        let sweeper = Sweeper(service: fixture.gateway.service, policy: .init(interval: .seconds(1), reminderLead: 3600), logger: Logger(label: "test"))
        let request = try await fixture.gateway.createRequest(NewAccessRequest(requester: "requester1@example.test", resource: "prod-db", reason: "x", durationSeconds: 3600), now: start)
        _ = try await fixture.gateway.decide(DecisionAttempt(requestID: request.id, reviewer: "approver1@example.test", action: .approve, channel: .cli), now: start)
        let emailsBefore = try await fixture.store.outboxEntries(status: nil, limit: 100).count
        clock.set(start.addingTimeInterval(3_599))
        try await sweeper.sweepOnce()
        #expect(try await fixture.store.accessStatus(user: "requester1@example.test", resource: "prod-db", at: clock.now).isAllowed)
        clock.set(start.addingTimeInterval(3_600))
        try await sweeper.sweepOnce()
        #expect(try await !fixture.store.accessStatus(user: "requester1@example.test", resource: "prod-db", at: clock.now).isAllowed)
        // An approved request is neither expired nor reminded by the sweeps.
        #expect(try await fixture.store.request(id: request.id)?.state == .approved)
        #expect(try await fixture.store.outboxEntries(status: nil, limit: 100).count == emailsBefore)
    }
}

import Foundation
import GatewayCore
import GatewayApp
import GatewayStore
import GatewayTestSupport
import Testing

/// The transactional outbox, reminders and auto-lock, with an injected clock (dates passed in).
@Suite struct NotificationStoreTests {
    let start = Fixture.start

    func recipients(_ store: any GatewayStorage, kind: NotificationKind) async throws -> [String] {
        try await store.outboxEntries(status: nil, limit: 1000).filter { $0.kind == kind }.map(\.recipient).sorted()
    }

    @Test("SMTP-1: a new request and its emails are written together, one per person", arguments: StoreBackend.allCases)
    func newRequestEnqueues(backend: StoreBackend) async throws {
        let gateway = try await Fixture.gateway(backend).gateway
        let store = gateway.store
        let request = try await gateway.createRequest(Fixture.newRequest(), now: start)
        let entries = try await store.outboxEntries(status: .pending, limit: 100)
        #expect(entries.allSatisfy { $0.requestID == request.id && $0.kind == .newRequest && $0.attempts == 0 })
        #expect(entries.map(\.recipient).sorted() == ["admin@example.test", "approver1@example.test", "approver2@example.test", "approver4@example.test"])
    }

    @Test("SMTP-1: one email to several recipients is queued in their order, each with the same kind, request and context", arguments: StoreBackend.allCases)
    func enqueueSeveral(backend: StoreBackend) async throws {
        let gateway = try await Fixture.gateway(backend).gateway
        let request = try await gateway.createRequest(Fixture.newRequest(), now: start)
        let recipients = ["zed@example.test", "amy@example.test", "kim@example.test"].map { NotificationRecipient(email: $0, reason: "test:\($0.prefix(3))") }
        let start = self.start
        try await gateway.store.write { tx in
            try tx.enqueue(.decided, requestID: request.id, recipients: recipients, context: ["grant_ends_at": "soon"], now: start)
            try tx.enqueue(.reminder, requestID: nil, recipients: [], context: [:], now: start)
            try tx.enqueue(.signIn, requestID: nil, recipients: Array(recipients.prefix(2)), context: [:], now: start)
        }
        // Without a request: the rows have none.
        let unattached = try await gateway.store.outboxEntries(status: .pending, limit: 1000).filter { $0.kind == .signIn }
        #expect(unattached.map(\.recipient) == recipients.prefix(2).map(\.email) && unattached.allSatisfy { $0.requestID == nil && $0.context.isEmpty })
        let queued = try await gateway.store.read { tx in try tx.outboxEntries(requestID: request.id) }.filter { $0.kind == .decided }
        #expect(queued.map(\.recipient) == recipients.map(\.email))
        #expect(queued.map(\.reason) == recipients.map(\.reason))
        #expect(queued.map(\.id) == queued.map(\.id).sorted())
        #expect(queued.allSatisfy { $0.status == .pending && $0.context == ["grant_ends_at": "soon"] && $0.nextAttemptAt == queued[0].nextAttemptAt })
    }

    @Test("Preferences: an admin can turn new requests off; a member cannot set any", arguments: StoreBackend.allCases)
    func preferences(backend: StoreBackend) async throws {
        let gateway = try await Fixture.gateway(backend).gateway
        let store = gateway.store
        #expect(try await store.notificationPreferences(for: "admin@example.test") == .default)
        try await gateway.setNotificationPreferences(NotificationPreferences(newRequests: false, outcomes: true), for: "admin@example.test", now: start)
        await #expect(throws: RequestError.self) {
            try await gateway.setNotificationPreferences(NotificationPreferences(newRequests: false, outcomes: false), for: "approver1@example.test", now: start)
        }
        let request = try await gateway.createRequest(Fixture.newRequest(), now: start)
        #expect(try await recipients(store, kind: .newRequest) == ["approver1@example.test", "approver2@example.test", "approver4@example.test"])
        _ = try await gateway.decide(DecisionAttempt(requestID: request.id, reviewer: "approver2@example.test", action: .deny, channel: .cli), now: start)
        // The outcome goes to the requester, to the other notified people and to admin, who wants outcomes.
        #expect(try await recipients(store, kind: .decided) == ["admin@example.test", "approver1@example.test", "approver4@example.test", "requester1@example.test"])
        #expect(try await store.auditLog(requestID: nil).contains { $0.action == .notificationPreferences && $0.detail["user"] == "admin@example.test" })
    }

    @Test("Expiry and cancellation tell the right people", arguments: StoreBackend.allCases)
    func expiryAndCancellation(backend: StoreBackend) async throws {
        let gateway = try await Fixture.gateway(backend).gateway
        let store = gateway.store
        let expiring = try await gateway.createRequest(Fixture.newRequest("requester1@example.test"), now: start)
        let cancelled = try await gateway.createRequest(Fixture.newRequest("requester2@example.test"), now: start)
        _ = try await gateway.cancelRequest(id: cancelled.id, requester: "requester2@example.test", now: start)
        _ = try await gateway.expireRequests(now: expiring.expiresAt)
        let all = try await store.outboxEntries(status: nil, limit: 100)
        #expect(all.filter { $0.kind == .expired }.map(\.recipient).sorted() == ["admin@example.test", "approver1@example.test", "approver2@example.test", "approver4@example.test", "requester1@example.test"])
        #expect(all.filter { $0.kind == .cancelled }.map(\.recipient).sorted() == ["admin@example.test", "approver1@example.test", "approver2@example.test", "approver4@example.test"])
    }

    @Test("SMTP-2: claim, retry with a later time, reclaim after a crash, fail, send", arguments: StoreBackend.allCases)
    func outboxLifecycle(backend: StoreBackend) async throws {
        let gateway = try await Fixture.gateway(backend).gateway
        let store = gateway.store
        _ = try await gateway.createRequest(Fixture.newRequest(), now: start)
        let claimed = try await store.claimOutbox(now: start, limit: 2, lease: 60)
        #expect(claimed.count == 2)
        #expect(try await store.claimOutbox(now: start, limit: 10, lease: 60).count == 2)
        #expect(try await store.claimOutbox(now: start, limit: 10, lease: 60).isEmpty)

        try await store.saveRenderedMessage(id: claimed[0].id, messageID: "<a@example.test>", raw: Array("first".utf8))
        try await store.saveRenderedMessage(id: claimed[0].id, messageID: "<b@example.test>", raw: Array("second".utf8))
        try await store.markOutboxRetry(id: claimed[0].id, error: "421 try later", retryAt: start.addingTimeInterval(30))
        try await store.markOutboxFailed(id: claimed[1].id, error: "550 no such user", now: start)
        #expect(try await store.claimOutbox(now: start.addingTimeInterval(29), limit: 10, lease: 60).isEmpty)
        let retried = try await store.claimOutbox(now: start.addingTimeInterval(30), limit: 10, lease: 60)
        #expect(retried.map(\.id) == [claimed[0].id])
        // SMTP-3: the first rendering is kept.
        #expect(retried[0].messageID == "<a@example.test>")
        #expect(retried[0].rawMessage == Array("first".utf8))
        #expect(retried[0].attempts == 1)
        #expect(retried[0].lastError == "421 try later")
        try await store.markOutboxSent(id: retried[0].id, now: start.addingTimeInterval(31), retainedHeaders: Array("Subject: x\r\n".utf8), bodyDigest: "d")

        // The two never finished (a crashed worker) are claimed again after their lease.
        let reclaimed = try await store.claimOutbox(now: start.addingTimeInterval(60), limit: 10, lease: 60)
        #expect(reclaimed.count == 2)
        let failed = try await store.outboxEntries(status: .failed, limit: 10)
        #expect(failed.map(\.lastError) == ["550 no such user"])
        #expect(try await store.outboxEntries(status: .sent, limit: 10).count == 1)
    }

    @Test("One reminder per request, before the deadline, to those who may still decide", arguments: StoreBackend.allCases)
    func reminders(backend: StoreBackend) async throws {
        let gateway = try await Fixture.gateway(backend).gateway
        let store = gateway.store
        let request = try await gateway.createRequest(Fixture.newRequest(), now: start)
        let lead: TimeInterval = 4 * 3600
        #expect(try await gateway.sendReminders(now: request.expiresAt.addingTimeInterval(-lead - 1), lead: lead).isEmpty)
        var directory = Fixture.directory
        directory.groups[0].members.remove("approver2@example.test")
        _ = try await gateway.syncDirectory(directory, now: start)
        #expect(try await gateway.sendReminders(now: request.expiresAt.addingTimeInterval(-lead), lead: lead) == [request.id])
        #expect(try await gateway.sendReminders(now: request.expiresAt.addingTimeInterval(-60), lead: lead).isEmpty)
        #expect(try await recipients(store, kind: .reminder) == ["admin@example.test", "approver1@example.test", "approver4@example.test"])
    }

    @Test("Auto-lock: unused for the period locks; use or an unlock restarts the period", arguments: StoreBackend.allCases)
    func autoLock(backend: StoreBackend) async throws {
        let gateway = try await Fixture.gateway(backend).gateway
        let store = gateway.store
        let day: TimeInterval = 86_400
        // prod-db locks after 30 days. requester1 used it; requester2 had a grant; nobody else is touched.
        try await gateway.recordUsage(user: "requester1@example.test", resource: "prod-db", now: start)
        let request = try await gateway.createRequest(Fixture.newRequest("requester2@example.test"), now: start)
        _ = try await gateway.decide(DecisionAttempt(requestID: request.id, reviewer: "admin@example.test", action: .approve, channel: .cli), now: start.addingTimeInterval(10 * day))
        #expect(try await gateway.autoLock(now: start.addingTimeInterval(29 * day)).isEmpty)
        let first = try await gateway.autoLock(now: start.addingTimeInterval(30 * day))
        #expect(first.map(\.user) == ["requester1@example.test"])
        try await gateway.recordUsage(user: "requester2@example.test", resource: "prod-db", now: start.addingTimeInterval(35 * day))
        #expect(try await gateway.autoLock(now: start.addingTimeInterval(64 * day)).isEmpty)
        #expect(try await gateway.autoLock(now: start.addingTimeInterval(65 * day)).map(\.user) == ["requester2@example.test"])
        #expect(try await gateway.autoLock(now: start.addingTimeInterval(100 * day)).isEmpty)

        // The locked user's next request is an unlock request; approving it lifts the lock.
        let unlock = try await gateway.createRequest(Fixture.newRequest("requester1@example.test", duration: nil), now: start.addingTimeInterval(100 * day))
        #expect(unlock.kind == .unlock)
        _ = try await gateway.decide(DecisionAttempt(requestID: unlock.id, reviewer: "approver1@example.test", action: .approve, channel: .cli), now: start.addingTimeInterval(100 * day))
        #expect(try await store.accessStatus(user: "requester1@example.test", resource: "prod-db", at: start.addingTimeInterval(100 * day)).lock == nil)
        // The period restarts from the unlock.
        #expect(try await gateway.autoLock(now: start.addingTimeInterval(129 * day)).isEmpty)
        #expect(try await gateway.autoLock(now: start.addingTimeInterval(130 * day)).map(\.user) == ["requester1@example.test"])
    }
}

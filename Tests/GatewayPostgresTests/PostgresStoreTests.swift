import Foundation
import GatewayApp
import GatewayConfig
import GatewayCore
import GatewayPostgres
import GatewayTestSupport
import PostgresNIO
import Testing

/// What only several gateways on one PostgreSQL database can show: work claimed by exactly one of
/// them, and the audit chain kept whole by concurrent writers. (The whole store suite runs on
/// PostgreSQL too: GatewayStoreTests, backend `postgres`.)
@Suite("PostgreSQL store, several gateways")
struct PostgresStoreTests {
    static let start = Date(timeIntervalSince1970: 1_800_000_000)

    static let directory = DirectorySnapshot(
        users: [User(email: "admin@example.test", name: "Ada Admin", role: .admin)]
            + (1...4).map { User(email: "approver\($0)@example.test", name: "Approver \($0)") }
            + (1...30).map { User(email: "requester\($0)@example.test", name: "Requester \($0)") },
        groups: [Group(name: "db-approvers", members: Set((1...4).map { "approver\($0)@example.test" }))],
        resources: [Resource(name: "prod-db", approverGroups: ["db-approvers"])]
    )

    /// Two gateways (two stores, two pools) on one fresh database holding the directory.
    func twoGateways() async throws -> (TestGateway, TestGateway, PostgresURL) {
        let url = try await PostgresLab.freshDatabase("gateways")
        let first = try TestGateway(store: await PostgresStore.open(url: url, password: PostgresLab.password), clock: TestClock(Self.start))
        _ = try await first.syncDirectory(Self.directory, now: Self.start)
        let second = try TestGateway(store: await PostgresStore.open(url: url, password: PostgresLab.password), clock: first.clock, keyRing: first.keyRing)
        return (first, second, url)
    }

    @Test("SMTP-1: two gateways claiming the outbox at once never claim the same email")
    func outboxClaimedOnce() async throws {
        let (first, second, _) = try await twoGateways()
        for n in 1...30 {
            _ = try await first.createRequest(NewAccessRequest(requester: "requester\(n)@example.test", resource: "prod-db", reason: "r", durationSeconds: nil), now: Self.start)
        }
        let queued = try await first.store.outboxEntries(status: .pending, limit: 10_000).count
        #expect(queued == 30 * 5)
        let claims = try await withThrowingTaskGroup(of: [Int64].self) { group in
            for gateway in [first, second, first, second] {
                group.addTask {
                    var mine: [Int64] = []
                    while true {
                        let batch = try await gateway.store.claimOutbox(now: Self.start, limit: 7, lease: 60)
                        if batch.isEmpty { return mine }
                        mine += batch.map(\.id)
                    }
                }
            }
            return try await group.reduce(into: [[Int64]]()) { $0.append($1) }
        }
        let all = claims.flatMap { $0 }
        #expect(all.count == queued)
        #expect(Set(all).count == queued, "an email was claimed twice")
        #expect(claims.filter { !$0.isEmpty }.count >= 2, "the claims were not spread over the workers")
        for gateway in [first, second] { await (gateway.store as! PostgresStore).close() }
    }

    @Test("AUDIT-1: the audit chain stays whole while two gateways decide at once; an edit is found")
    func decisionsAcrossGateways() async throws {
        let (first, second, url) = try await twoGateways()
        var ids: [Int64] = []
        for n in 1...10 {
            ids.append(try await first.createRequest(NewAccessRequest(requester: "requester\(n)@example.test", resource: "prod-db", reason: "r", durationSeconds: nil), now: Self.start).id)
        }
        let wins = try await withThrowingTaskGroup(of: Int.self) { group in
            for id in ids {
                for (index, gateway) in [first, second, first, second].enumerated() {
                    group.addTask {
                        let attempt = DecisionAttempt(
                            requestID: id, reviewer: "approver\(index + 1)@example.test", action: index % 2 == 0 ? .approve : .deny, channel: .web
                        )
                        return try await gateway.decide(attempt, now: Self.start.addingTimeInterval(5)).decidedRequest == nil ? 0 : 1
                    }
                }
            }
            return try await group.reduce(0, +)
        }
        #expect(wins == ids.count)
        for id in ids {
            let request = try await second.store.request(id: id)
            #expect(request?.state == .approved || request?.state == .denied)
        }
        let report = try await second.store.verifyAuditChain()
        #expect(report.firstBroken == nil)
        #expect(report.records > ids.count * 4)

        // An edit made with the triggers switched off is still found, at the record it touched.
        let owner = try PostgresDatabase(url: url, password: PostgresLab.password)
        let edited = try await owner.write { session -> Int64 in
            try session.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
            let id = try session.value("SELECT id FROM audit_log ORDER BY id OFFSET 7 LIMIT 1", as: Int64.self)!
            try session.execute("UPDATE audit_log SET actor = 'someone-else@example.test' WHERE id = \(id)")
            try session.execute("ALTER TABLE audit_log ENABLE TRIGGER USER")
            return id
        }
        await owner.close()
        let broken = try await first.store.verifyAuditChain()
        #expect(broken.firstBroken?.id == edited)
        for gateway in [first, second] { await (gateway.store as! PostgresStore).close() }
    }

    @Test("sweeps on two gateways at the same moment remind once and expire once")
    func concurrentSweeps() async throws {
        let (first, second, _) = try await twoGateways()
        var ids: [Int64] = []
        for n in 1...10 {
            ids.append(try await first.createRequest(NewAccessRequest(requester: "requester\(n)@example.test", resource: "prod-db", reason: "r", durationSeconds: nil), now: Self.start).id)
        }
        let deadline = try #require(try await first.store.request(id: ids[0])).expiresAt
        // An hour before the deadline, every gateway's sweeper reminds at once, twice over.
        first.clock.set(deadline.addingTimeInterval(-3600))
        let reminded = try await withThrowingTaskGroup(of: [Int64].self) { group in
            for gateway in [first, second, first, second] { group.addTask { try await gateway.service.sendReminders(lead: 4 * 3600) } }
            return try await group.reduce(into: [Int64]()) { $0 += $1 }
        }
        #expect(reminded.sorted() == ids.sorted(), "each request reminded by exactly one sweep")
        let reminders = try await first.store.outboxEntries(status: nil, limit: 10_000).filter { $0.kind == .reminder }
        #expect(reminders.count == ids.count * 5, "one reminder per notified reviewer per request")

        // After the deadline, both expire: each request once, each requester told once.
        first.clock.set(deadline.addingTimeInterval(1))
        let expired = try await withThrowingTaskGroup(of: [Int64].self) { group in
            for gateway in [first, second, first, second] { group.addTask { try await gateway.service.expireOverdueRequests() } }
            return try await group.reduce(into: [Int64]()) { $0 += $1 }
        }
        #expect(expired.sorted() == ids.sorted())
        let expiryLog = try await first.store.auditLog(requestID: nil).filter { $0.action == .expire }
        #expect(expiryLog.count == ids.count)
        for gateway in [first, second] { await (gateway.store as! PostgresStore).close() }
    }

    @Test("A write of one request runs beside a write of another request, and waits for a write of the same request and for a write of everything")
    func scopedWritesRunSideBySide() async throws {
        let (first, second, _) = try await twoGateways()
        let held = AsyncGate(), release = AsyncGate()
        // The first gateway holds a write of request 1 open until released.
        let holder = Task {
            try await first.store.write(.request(1)) { tx in
                // A statement's answer means the transaction's locks were granted.
                _ = try tx.request(id: 1)
                held.open()
                release.waitBlocking(seconds: 20)
            }
        }
        await held.wait()

        // Another request's write, on the other gateway, is not held up.
        let other = Task { try await second.store.write(.request(2)) { tx in _ = try tx.request(id: 2); return Date() } }
        let otherDone = try await other.value
        // The same request's write, and a write of everything, wait for the holder.
        let finished = FinishTimes()
        let sameRequest = Task { try await second.store.write(.request(1)) { tx in _ = try tx.request(id: 1); finished.note("same") } }
        let everything = Task { try await second.store.write { tx in _ = try tx.request(id: 1); finished.note("everything") } }
        try await Task.sleep(for: .milliseconds(500))
        #expect(finished.names.isEmpty, "a write ran beside a write of the same request, or a write of everything ran beside another")
        let released = Date()
        release.open()
        try await holder.value
        try await sameRequest.value
        try await everything.value
        #expect(otherDone < released)
        #expect(Set(finished.names) == ["same", "everything"])
        #expect(finished.earliest.map { $0 >= released } == true)
        for gateway in [first, second] { await (gateway.store as! PostgresStore).close() }
    }
    @Test("AUTHZ-4: opening a request that would expire one being decided waits for the decision, and sees what it decided")
    func openWaitsForDecisionOfSamePair() async throws {
        let (first, second, _) = try await twoGateways()
        let pending = try await first.createRequest(NewAccessRequest(requester: "requester1@example.test", resource: "prod-db", reason: "r", durationSeconds: nil), now: Self.start)
        let held = AsyncGate(), release = AsyncGate()
        let deciding = Task {
            try await first.store.write(.request(pending.id)) { tx in
                // What a decision reads first: the request's row, locked until this write ends.
                _ = try tx.decisionFacts(requestID: pending.id, reviewer: "approver1@example.test")
                held.open()
                release.waitBlocking(seconds: 20)
                return try tx.claimDecision(requestID: pending.id, action: .approve, reviewer: "approver1@example.test", channel: .cli, comment: nil, now: Self.start)
            }
        }
        await held.wait()
        // The same requester and resource, past the pending request's deadline: the open would
        // expire it, so it must wait for the decision and then find it decided.
        let late = pending.expiresAt.addingTimeInterval(60)
        let finished = FinishTimes()
        let opening = Task {
            let request = try await second.createRequest(NewAccessRequest(requester: "requester1@example.test", resource: "prod-db", reason: "again", durationSeconds: nil), now: late)
            finished.note("open")
            return request
        }
        try await Task.sleep(for: .milliseconds(500))
        #expect(finished.names.isEmpty, "the open ran beside a decision on the request it would expire")
        release.open()
        #expect(try await deciding.value?.state == .approved)
        let reopened = try await opening.value
        #expect(reopened.state == .pending && reopened.id != pending.id)
        #expect(try await first.store.request(id: pending.id)?.state == .approved)
        #expect(try await first.store.verifyAuditChain().firstBroken == nil)
        for gateway in [first, second] { await (gateway.store as! PostgresStore).close() }
    }
}


/// A one-way gate a test opens once: waiters wait until it is open.
private final class AsyncGate: @unchecked Sendable {
    private let semaphore = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var isOpen = false

    func open() {
        lock.withLock { isOpen = true }
        semaphore.signal()
    }

    /// Waits on a thread that may block (a store's pool thread), at most `seconds`.
    func waitBlocking(seconds: Double) {
        if semaphore.wait(timeout: .now() + seconds) == .success { semaphore.signal() }
    }

    /// Waits without blocking a thread.
    func wait() async {
        while !lock.withLock({ isOpen }) { try? await Task.sleep(for: .milliseconds(5)) }
    }
}

/// When each named write finished.
private final class FinishTimes: @unchecked Sendable {
    private let lock = NSLock()
    private var times: [String: Date] = [:]

    func note(_ name: String) { lock.withLock { times[name] = Date() } }
    var names: [String] { lock.withLock { Array(times.keys) } }
    var earliest: Date? { lock.withLock { times.values.min() } }
}

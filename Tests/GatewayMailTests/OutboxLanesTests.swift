import Foundation
import GatewayApp
import GatewayCore
@testable import GatewayMail
import GatewayTestSupport
import MailTransport
import Synchronization
import Testing

/// The outbox over several SMTP connections: every email once, side by side, and each person's
/// emails in the order they were queued.
@Suite(.serialized) struct OutboxLanesTests {
    @Test("SMTP-2: three requests and an outcome over three connections: every email delivered once, to the right people")
    func severalConnectionsDeliverEachEmailOnce() async throws {
        try MailLab.requireRunning()
        let fixture = try await GatewayFixture()
        func open(_ requester: String, _ reason: String) async throws -> AccessRequest {
            try await fixture.gateway.createRequest(NewAccessRequest(requester: requester, resource: "prod-db", reason: reason, durationSeconds: 3600), now: Date())
        }
        let first = try await open("requester1@example.test", "lanes 1")
        _ = try await open("requester2@example.test", "lanes 2")
        // The first is decided before anything is sent: its outcome is queued behind its invitations.
        _ = try await fixture.gateway.decide(DecisionAttempt(requestID: first.id, reviewer: "approver1@example.test", action: .approve, channel: .web), now: Date())
        _ = try await open("requester1@example.test", "lanes 3")
        let senders: [any EmailSending] = try (0..<3).map { _ in try labSender() }
        let worker = fixture.worker(senders: senders)
        let queued = try await fixture.store.outboxEntries(status: .pending, limit: 100).count
        #expect(try await worker.drainOnce() == queued)
        #expect(try await worker.drainOnce() == 0)
        #expect(try await fixture.store.outboxEntries(status: .sent, limit: 100).count == queued)

        let marker = "X-Approval-Gateway: \(fixture.installation)"
        // Every reviewer gets three invitations, and all but approver1 (who decided it) the first request's
        // outcome, as does its requester.
        let expected = [
            "approver1@example.test": 3, "approver2@example.test": 4, "requester3@example.test": 4, "admin@example.test": 4,
            "requester1@example.test": 1, "requester2@example.test": 0,
        ]
        for (user, count) in expected {
            if count > 0 { _ = try await MailLab.waitForMessages(for: user, containing: marker, count: count) }
            try await MailLab.flush(user)
            let found = MailLab.messages(for: user, containing: marker).count
            #expect(found == count, "\(user) got \(found), expected \(count)")
        }
    }

    @Test("SMTP-2: emails to one person never overlap and leave in queue order, while other people's go out side by side")
    func onePersonsEmailsLeaveInOrder() async throws {
        let fixture = try await GatewayFixture()
        try await queueDeniedRequests(6, in: fixture)
        let recorder = RecordingSender(delay: .milliseconds(5))
        let worker = fixture.worker(senders: Array(repeating: recorder, count: 4), batchSize: 100)
        let queued = try await fixture.store.outboxEntries(status: .pending, limit: 200)
        #expect(try await worker.drainOnce() == queued.count)

        let sends = recorder.sends
        #expect(sends.count == queued.count)
        for recipient in Set(queued.map(\.recipient)) {
            let own = sends.filter { $0.recipient == recipient }
            // In the order they were queued (outbox ids ascend with it).
            #expect(own.map(\.outboxID) == own.map(\.outboxID).sorted(), "\(recipient)'s emails left out of order")
            for (earlier, later) in zip(own, own.dropFirst()) {
                #expect(earlier.ended <= later.started, "two emails to \(recipient) were on the wire at once")
            }
        }
        #expect(recorder.mostAtOnce > 1, "the connections never sent side by side")
    }

    @Test("The delivery queue holds back a person's next email until the one in flight is finished")
    func queueHoldsBackARecipientInFlight() async throws {
        func entry(_ id: Int64, _ recipient: String) -> OutboxEntry {
            OutboxEntry(id: id, kind: .newRequest, requestID: 1, recipient: recipient, reason: "test", status: .sending, attempts: 0,
                        createdAt: Date(), nextAttemptAt: Date(), sentAt: nil, lastError: nil, messageID: nil, rawMessage: nil, context: [:])
        }
        let queue = OutboxWorker.DeliveryQueue([entry(1, "a@x"), entry(2, "a@x"), entry(3, "b@x")])
        #expect(await queue.next()?.id == 1)
        #expect(await queue.next()?.id == 3)  // 2 waits for 1
        async let waiting = queue.next()  // only 2 is left, and a@x is in flight
        try await Task.sleep(for: .milliseconds(50))
        await queue.finished(entry(1, "a@x"))
        #expect(await waiting?.id == 2)
        await queue.finished(entry(3, "b@x"))
        await queue.finished(entry(2, "a@x"))
        #expect(await queue.next() == nil)
    }

    @Test("SMTP-3: records from many connections at once are all kept (they share transactions), each before its caller goes on")
    func concurrentRecordsAllLand() async throws {
        let fixture = try await GatewayFixture()
        try await queueDeniedRequests(4, in: fixture)
        let claimed = try await fixture.store.claimOutbox(now: Date(), limit: 100, lease: 60)
        #expect(claimed.count > 16)
        let recorder = OutboxWorker.SentRecorder(store: fixture.store)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for entry in claimed {
                group.addTask {
                    try await recorder.record(OutboxDelivery(id: entry.id, sentAt: Date(), retainedHeaders: Array("Subject: x\r\n".utf8), bodyDigest: "d\(entry.id)"))
                    // Recorded before record returns.
                    let stored = try await fixture.store.read { try $0.outboxEntry(id: entry.id) }
                    #expect(stored?.status == .sent)
                }
            }
            try await group.waitForAll()
        }
        #expect(try await fixture.store.outboxEntries(status: .sent, limit: 100).count == claimed.count)
    }

    /// Opens and denies `count` requests one after another: each queues its invitations, then its outcome.
    func queueDeniedRequests(_ count: Int, in fixture: GatewayFixture) async throws {
        for n in 1...count {
            let request = try await fixture.gateway.createRequest(NewAccessRequest(requester: "requester1@example.test", resource: "prod-db", reason: "request \(n)", durationSeconds: 3600), now: Date())
            _ = try await fixture.gateway.decide(DecisionAttempt(requestID: request.id, reviewer: "approver1@example.test", action: .deny, channel: .web), now: Date())
        }
    }

    func labSender() throws -> SMTPEmailSender {
        SMTPEmailSender(sender: SMTPSender(configuration: try SMTPConfiguration(
            url: MailLab.smtpURL, startTLS: .opportunistic, caFile: MailLab.caFile, ehloName: "example.test", connectTimeout: .seconds(3), timeout: .seconds(20)
        )))
    }
}

/// Records each send (which outbox email, to whom, when it started and ended) after a short delay.
final class RecordingSender: EmailSending {
    struct Send: Sendable {
        var outboxID: Int64
        var recipient: String
        var started: ContinuousClock.Instant
        var ended: ContinuousClock.Instant
    }

    private struct State {
        var sends: [Send] = []
        var inFlight = 0
        var mostAtOnce = 0
    }

    let delay: Duration
    private let state = Mutex(State())

    init(delay: Duration) {
        self.delay = delay
    }

    var sends: [Send] { state.withLock { $0.sends } }
    var mostAtOnce: Int { state.withLock { $0.mostAtOnce } }

    func send(raw: [UInt8], from sender: String, to recipient: String) async throws(DeliveryFailure) {
        let started = ContinuousClock.now
        state.withLock {
            $0.inFlight += 1
            $0.mostAtOnce = max($0.mostAtOnce, $0.inFlight)
        }
        try? await Task.sleep(for: delay)
        // Message-ID: <ag.OUTBOXID.RANDOM@domain>
        let text = String(decoding: raw, as: UTF8.self)
        let id = text.range(of: "<ag.").flatMap { range in Int64(text[range.upperBound...].prefix { $0 != "." }) } ?? -1
        state.withLock {
            $0.inFlight -= 1
            $0.sends.append(Send(outboxID: id, recipient: recipient, started: started, ended: ContinuousClock.now))
        }
    }
}

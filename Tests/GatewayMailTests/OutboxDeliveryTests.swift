import Foundation
import GatewayApp
import GatewayCore
import GatewayTestSupport
import GatewayMail
import Logging
import MailTransport
import Testing

/// The outbox against the real lab: Postfix delivering through Dovecot (SMTP-1, SMTP-2, SMTP-3).
@Suite(.serialized) struct OutboxDeliveryTests {
    func labSender(url: String = MailLab.smtpURL) throws -> SMTPEmailSender {
        SMTPEmailSender(sender: SMTPSender(configuration: try SMTPConfiguration(
            url: url, startTLS: .opportunistic, caFile: MailLab.caFile, ehloName: "example.test", connectTimeout: .seconds(3), timeout: .seconds(20)
        )))
    }

    @Test("A request on prod-db mails each approver and admin exactly once, and nobody else (not the requester)")
    func deliversToTheRightPeople() async throws {
        try MailLab.requireRunning()
        let fixture = try await GatewayFixture()
        let request = try await fixture.gateway.createRequest(NewAccessRequest(requester: "requester1@example.test", resource: "prod-db", reason: "deliver", durationSeconds: 3600), now: Date())
        let worker = fixture.worker(sender: try labSender())
        #expect(try await worker.drainOnce() == 4)
        #expect(try await worker.drainOnce() == 0)
        let marker = "X-Approval-Gateway: \(fixture.installation)"
        for user in ["approver1@example.test", "approver2@example.test", "requester3@example.test", "admin@example.test"] {
            let found = try await MailLab.waitForMessages(for: user, containing: marker, count: 1)
            #expect(found.count == 1, "\(user) got \(found.count)")
            #expect(found.first?.contains("Content-Type: text/plain") == true && found.first?.contains("Content-Type: text/html") == true)
            #expect(found.first?.contains("Reply-To:") == true)
            #expect(found.first?.contains("Auto-Submitted: auto-generated") == true)
            #expect(found.first?.contains("[Access request #\(request.id)]") == true)
        }
        for user in ["approver3@example.test", "requester1@example.test"] {
            try await MailLab.flush(user)
            #expect(MailLab.messages(for: user, containing: marker).isEmpty, "\(user) was mailed")
        }
        #expect(try await fixture.store.outboxEntries(status: .sent, limit: 10).count == 4)
    }

    @Test("SMTP-2: with the SMTP server unreachable requests still succeed; their emails arrive once it is back, each once")
    func serverDownThenBack() async throws {
        try MailLab.requireRunning()
        let fixture = try await GatewayFixture()
        let clock = TestClock()
        _ = try await fixture.gateway.createRequest(NewAccessRequest(requester: "requester2@example.test", resource: "staging-web", reason: "down"), now: clock.now)
        // Nothing listens on this port: connection refused, a transient failure.
        let down = fixture.worker(sender: try labSender(url: "smtp://127.0.0.1:2599"), clock: clock)
        // staging-web: approver3 (web-approvers) and admin (admin role).
        #expect(try await down.drainOnce() == 2)
        let waiting = try await fixture.store.outboxEntries(status: .pending, limit: 10)
        #expect(waiting.count == 2)
        #expect(waiting.allSatisfy { $0.attempts == 1 && $0.lastError?.contains("127.0.0.1:2599") == true })
        #expect(try await down.drainOnce() == 0, "retried before its time")
        clock.advance(by: 3)
        let up = fixture.worker(sender: try labSender(), clock: clock)
        #expect(try await up.drainOnce() == 2)
        let marker = "X-Approval-Gateway: \(fixture.installation)"
        #expect(try await MailLab.waitForMessages(for: "approver3@example.test", containing: marker, count: 1).count == 1)
        try await MailLab.flush("approver3@example.test")
        #expect(MailLab.messages(for: "approver3@example.test", containing: marker).count == 1)
        // SMTP-3: what was sent is the first rendering, with its Message-ID.
        let sent = try #require(try await fixture.store.outboxEntries(status: .sent, limit: 10).first { $0.recipient == "approver3@example.test" })
        #expect(MailLab.messages(for: "approver3@example.test", containing: marker).first?.contains("Message-ID: <\(sent.messageID!)>") == true)
    }

    @Test("SMTP-2: a batch stays claimed through a send slower than the lease, then each email is sent once")
    func claimsRenewedDuringSlowSend() async throws {
        try MailLab.requireRunning()
        let fixture = try await GatewayFixture()
        _ = try await fixture.gateway.createRequest(NewAccessRequest(requester: "requester2@example.test", resource: "staging-web", reason: "slow"), now: Date())
        // Margins for a loaded machine: a renewal may stall for a second or two without the claim lapsing.
        let slow = SlowSender(wrapped: try labSender(), delay: .seconds(5))
        let worker = fixture.worker(sender: slow, lease: 3, claimRenewal: .milliseconds(250))
        async let drained = worker.drainOnce()
        // Well past the first lease, during the first send, another gateway still finds nothing to claim.
        try await Task.sleep(for: .seconds(4))
        #expect(try await fixture.store.claimOutbox(now: Date(), limit: 10, lease: 60).isEmpty, "a claim in hand ran out")
        #expect(try await drained == 2)
        #expect(try await fixture.store.outboxEntries(status: .sent, limit: 10).count == 2)
        #expect(try await fixture.store.claimOutbox(now: Date().addingTimeInterval(60), limit: 10, lease: 60).isEmpty)
    }

    @Test("SMTP-2: a recipient the server refuses with 5xx fails after one attempt and shows as failed")
    func permanentFailure() async throws {
        try MailLab.requireRunning()
        let fixture = try await GatewayFixture()
        _ = try await fixture.gateway.createRequest(NewAccessRequest(requester: "requester1@example.test", resource: "ghost-app", reason: "ghost"), now: Date())
        let worker = fixture.worker(sender: try labSender())
        #expect(try await worker.drainOnce() == 3)
        let failed = try await fixture.store.outboxEntries(status: .failed, limit: 10)
        #expect(failed.map(\.recipient) == ["no-such-mailbox@example.test"])
        #expect(failed.first?.attempts == 1)
        #expect(failed.first?.lastError?.contains("550") == true)
        #expect(try await fixture.store.outboxEntries(status: .sent, limit: 10).map(\.recipient).sorted() == ["admin@example.test", "approver3@example.test"])
    }

    @Test("A crash after claiming (the lease runs out) loses nothing and sends each email once")
    func crashAfterClaim() async throws {
        try MailLab.requireRunning()
        let fixture = try await GatewayFixture()
        let clock = TestClock()
        _ = try await fixture.gateway.createRequest(NewAccessRequest(requester: "requester1@example.test", resource: "staging-web", reason: "crash"), now: clock.now)
        // A worker claimed the emails and died before sending: that is what a kill -9 leaves behind.
        #expect(try await fixture.store.claimOutbox(now: clock.now, limit: 10, lease: 300).count == 2)
        let worker = fixture.worker(sender: try labSender(), clock: clock)
        #expect(try await worker.drainOnce() == 0)
        clock.advance(by: 301)
        #expect(try await worker.drainOnce() == 2)
        #expect(try await worker.drainOnce() == 0)
        let marker = "X-Approval-Gateway: \(fixture.installation)"
        #expect(try await MailLab.waitForMessages(for: "approver3@example.test", containing: marker, count: 1).count == 1)
        try await MailLab.flush("approver3@example.test")
        #expect(MailLab.messages(for: "approver3@example.test", containing: marker).count == 1)
    }
}

/// Passes every email on to `wrapped` after `delay`: a slow SMTP server.
struct SlowSender: EmailSending {
    let wrapped: any EmailSending
    let delay: Duration

    func send(raw: [UInt8], from sender: String, to recipient: String) async throws(DeliveryFailure) {
        try? await Task.sleep(for: delay)
        try await wrapped.send(raw: raw, from: sender, to: recipient)
    }
}

import ApprovalTokens
import Foundation
import GatewayApp
import GatewayCore
import GatewayTestSupport
import GatewayMail
import MailMessage
import MailTransport
import Testing

/// Loop safety and exactly-once processing against the real lab (LOOP-1, LOOP-2, LOOP-4, IMAP-1..4).
@Suite(.serialized) struct InboxLoopAndDeliveryTests {
    @Test("LOOP-1: an out-of-office auto-reply and a bounce change nothing and get no answer")
    func autoReplyAndBounce() async throws {
        let gateway = try await InboxHarness(gatewayUser: "approver6")
        defer { Task { await gateway.shutdown() } }
        let request = try await gateway.createRequest()
        let notification = try await gateway.notification(for: "approver1@example.test", request: request)
        let replyTo = try #require(try MailMessage(parsing: notification).headers["Reply-To"].map { try AddressParser.parseSingleMailbox($0).address })
        try await gateway.reply(to: notification, from: "approver1@example.test", body: "Approved leave: I am out of office until Monday.", extraHeaders: ["Auto-Submitted: auto-replied", "X-Autoreply: yes"])
        let bounce = [
            "From: Mail Delivery System <MAILER-DAEMON@example.test>",
            "To: \(replyTo)",
            "Subject: Undelivered Mail Returned to Sender",
            "Message-ID: <bounce-\(UUID().uuidString)@example.test>",
            "MIME-Version: 1.0",
            "Content-Type: multipart/report; report-type=delivery-status; boundary=\"b1\"",
            "",
            "--b1",
            "Content-Type: text/plain",
            "",
            "Rejected: 550 5.1.1 user unknown",
            "--b1",
            "Content-Type: message/delivery-status",
            "",
            "Final-Recipient: rfc822; nobody@example.test",
            "Action: failed",
            "--b1",
            "Content-Type: message/rfc822",
            "",
            "From: approver1@example.test",
            "Subject: Re: approve",
            "",
            "Approve - looks fine",
            "--b1--",
            "",
        ].joined(separator: "\r\n")
        try await gateway.send(raw: bounce, envelopeFrom: "", to: replyTo)
        #expect(try await gateway.process(expecting: 2) == 2)
        #expect(try await gateway.store.request(id: request.id)?.state == .pending)
        let inbound = try await gateway.store.inboundMessages(limit: 10)
        #expect(inbound.map(\.outcome) == [.ignored, .ignored])
        #expect(try await gateway.store.outboxEntries(status: nil, limit: 100).allSatisfy { ![.replyConfirmation, .replyRefusal].contains($0.kind) })
    }

    @Test("LOOP-2: the gateway's own mail fed back 100 times produces no outgoing email")
    func ownMailFedBack() async throws {
        let gateway = try await InboxHarness(gatewayUser: "approver7")
        defer { Task { await gateway.shutdown() } }
        let request = try await gateway.createRequest()
        let notification = try await gateway.notification(for: "approver1@example.test", request: request)
        let replyTo = try #require(try MailMessage(parsing: notification).headers["Reply-To"].map { try AddressParser.parseSingleMailbox($0).address })
        let before = try await gateway.store.outboxEntries(status: nil, limit: 1000).count
        // The notification itself, as if a forwarding rule or a misconfigured server sent it back.
        let raw = notification.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\n", with: "\r\n")
        for index in 0..<100 {
            let unique = raw.replacingOccurrences(of: "Message-ID: <", with: "Message-ID: <loop\(index).")
            try await gateway.send(raw: unique, envelopeFrom: "approver6@example.test", to: replyTo)
        }
        #expect(try await gateway.process(expecting: 100, timeout: .seconds(60)) == 100)
        let after = try await gateway.store.outboxEntries(status: nil, limit: 1000).count
        #expect(after == before)
        #expect(try await gateway.store.inboundMessages(limit: 200).filter { $0.outcome == .ignored }.count == 100)
        #expect(try await gateway.store.request(id: request.id)?.state == .pending)
    }

    @Test("LOOP-4: 100 unclear replies from the verified reviewer (a client stuck in a loop) get exactly one answer")
    func answerLimitsStopALoop() async throws {
        let gateway = try await InboxHarness(gatewayUser: "approver14")
        defer { Task { await gateway.shutdown() } }
        let request = try await gateway.createRequest()
        let notification = try await gateway.notification(for: "approver1@example.test", request: request)
        let before = try await gateway.store.outboxEntries(status: nil, limit: 1000).count
        for index in 0..<100 {
            // Authenticated, from the key's reviewer, not marked automated: only the answer limits stop it.
            try await gateway.reply(to: notification, from: "approver1@example.test", body: "Hello? (\(index))", messageID: "loop\(index)-\(UUID().uuidString)@client.example.test")
        }
        #expect(try await gateway.process(expecting: 100, timeout: .seconds(60)) == 100)
        let answers = try await gateway.store.outboxEntries(status: nil, limit: 1000).dropFirst(before)
        #expect(answers.count == 1)
        #expect(answers.first?.kind == .replyRefusal && answers.first?.recipient == "approver1@example.test")
        #expect(try await gateway.store.inboundMessages(limit: 200).filter { $0.outcome == .rejected(.notUnderstood) }.count == 100)
        #expect(try await gateway.store.request(id: request.id)?.state == .pending)
    }

    @Test("IMAP-2: the same reply delivered twice yields exactly one decision")
    func sameReplyTwice() async throws {
        let gateway = try await InboxHarness(gatewayUser: "approver8")
        defer { Task { await gateway.shutdown() } }
        let request = try await gateway.createRequest()
        let notification = try await gateway.notification(for: "approver1@example.test", request: request)
        let id = "same-\(UUID().uuidString)@client.example.test"
        try await gateway.reply(to: notification, from: "approver1@example.test", body: "approve", messageID: id)
        try await gateway.reply(to: notification, from: "approver1@example.test", body: "approve", messageID: id)
        #expect(try await gateway.process(expecting: 2) == 2)
        #expect(try await gateway.store.request(id: request.id)?.state == .approved)
        let log = try await gateway.store.auditLog(requestID: request.id).filter { $0.action == .decide }
        #expect(log.count == 1)
        #expect(try await gateway.store.inboundMessages(limit: 10).count == 1)
        #expect(try await gateway.store.outboxEntries(status: nil, limit: 100).filter { $0.kind == .replyConfirmation }.count == 1)
    }

    @Test("IMAP-3: a crash between the decision commit and the move yields one decision; the message is moved on restart")
    func crashBeforeMove() async throws {
        let gateway = try await InboxHarness(gatewayUser: "approver9")
        defer { Task { await gateway.shutdown() } }
        let request = try await gateway.createRequest()
        let notification = try await gateway.notification(for: "approver1@example.test", request: request)
        try await gateway.reply(to: notification, from: "approver1@example.test", body: "approve")
        // The first run commits the decision and dies before moving the message: exactly the state
        // a kill -9 between the two steps leaves (the message still in INBOX, the UID not recorded).
        let status = try await gateway.mailbox.select()
        var uids: [UInt32] = []
        for _ in 0..<100 where uids.isEmpty {
            uids = try await gateway.mailbox.uidsAfter(0)
            if uids.isEmpty { try await Task.sleep(for: .milliseconds(100)) }
        }
        let uid = try #require(uids.first)
        let raw = try #require(try await gateway.mailbox.fetchRaw(uid: uid))
        let verifier = ReplyVerifier(settings: ReplySettings(replyAddress: "approver9+{key}@example.test", trustedAuthservID: "mail.example.test", requireAuthentication: true), keyRing: gateway.fixture.keyRing)
        let mail = verifier.read(raw: raw, mailbox: "INBOX", uidValidity: status.uidValidity, uid: uid)
        #expect(try await gateway.fixture.gateway.service.handleInbound(mail).outcome == .decided(.approve))
        #expect(try await gateway.store.request(id: request.id)?.state == .approved)
        // The restarted processor sees the message again.
        #expect(try await gateway.process() == 1)
        #expect(try await gateway.store.auditLog(requestID: request.id).filter { $0.action == .decide }.count == 1)
        #expect(try await gateway.folderCount("Processed") == 1)
        #expect(try await gateway.mailbox.select().messages == 0)
    }

    @Test("IMAP-1: a new UIDVALIDITY (mailbox reset) never causes a second decision")
    func uidValidityChange() async throws {
        let gateway = try await InboxHarness(gatewayUser: "approver10")
        defer { Task { await gateway.shutdown() } }
        let request = try await gateway.createRequest()
        let notification = try await gateway.notification(for: "approver1@example.test", request: request)
        let id = "reset-\(UUID().uuidString)@client.example.test"
        try await gateway.reply(to: notification, from: "approver1@example.test", body: "approve", messageID: id)
        #expect(try await gateway.process() == 1)
        let before = try #require(try await gateway.store.mailboxCursor("INBOX"))
        try MailLab.resetUser("approver10")
        await gateway.mailbox.close()
        // The same reply arrives again in the new mailbox (a restore, a server migration).
        try await gateway.reply(to: notification, from: "approver1@example.test", body: "approve", messageID: id)
        #expect(try await gateway.process() == 1)
        let after = try #require(try await gateway.store.mailboxCursor("INBOX"))
        #expect(after.uidValidity != before.uidValidity)
        #expect(try await gateway.store.auditLog(requestID: request.id).filter { $0.action == .decide }.count == 1)
    }

    @Test("IMAP-4: a message over the size limit is not downloaded and is moved aside")
    func oversizeMessage() async throws {
        let gateway = try await InboxHarness(gatewayUser: "approver11")
        defer { Task { await gateway.shutdown() } }
        let request = try await gateway.createRequest()
        let notification = try await gateway.notification(for: "approver1@example.test", request: request)
        let padding = String(repeating: "x", count: 998) + "\n"
        try await gateway.reply(to: notification, from: "approver1@example.test", body: "approve\n\n" + String(repeating: padding, count: 250))
        #expect(try await gateway.process() == 1)
        #expect(try await gateway.store.request(id: request.id)?.state == .pending)
        #expect(try await gateway.store.inboundMessages(limit: 1).first?.outcome.reason == "too_large")
        #expect(try await gateway.folderCount("Rejected") == 1)
    }

    @Test("IMAP-5: with the IMAP server unreachable the processor backs off, and resumes when it returns")
    func serverDownAndBack() async throws {
        // A relay we can stop and start stands in for the IMAP server going away.
        let port = Int.random(in: 20_000...29_999)
        var relay = try Relay(port: port, target: 1143)
        let gateway = try await InboxHarness(gatewayUser: "approver12", imapURL: "imap://127.0.0.1:\(port)/INBOX")
        defer { Task { await gateway.shutdown() } }
        let request = try await gateway.createRequest()
        #expect(try await gateway.processor.processNewMessages() == 0)
        relay.stop()
        await gateway.mailbox.close()
        let notification = try await gateway.notification(for: "approver1@example.test", request: request)
        try await gateway.reply(to: notification, from: "approver1@example.test", body: "approve")
        let service = Task { try await gateway.processor.run() }
        // The server is unreachable: the inbox fails and backs off, deciding nothing.
        _ = try await eventually("the inbox to fail against the unreachable server") { await gateway.mailbox.backoffState.failures > 0 ? true : nil }
        #expect(try await gateway.store.request(id: request.id)?.state == .pending)
        relay = try Relay(port: port, target: 1143)
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(20)
        while clock.now < deadline, try await gateway.store.request(id: request.id)?.state == .pending {
            try await Task.sleep(for: .milliseconds(200))
        }
        service.cancel()
        gateway.mailbox.shutdown()
        relay.stop()
        #expect(try await gateway.store.request(id: request.id)?.state == .approved)
    }

    @Test("LOOP-5: a real Postfix bounce marks the email bounced, names why, and is never answered")
    func realBounceMarksTheEmailBounced() async throws {
        let gateway = try await InboxHarness(gatewayUser: "approver16", bounces: true)
        defer { Task { await gateway.shutdown() } }
        let request = try await gateway.createRequest("requester1@example.test", resource: "remote-app")
        let entries = try await gateway.store.outboxEntries(status: nil, limit: 100)
        let ghost = try #require(entries.first { $0.recipient == "ghost@bounce.example.test" })
        #expect(ghost.status == .sent)  // accepted by SMTP; the bounce comes later
        #expect(try await gateway.process() == 1)
        let bounced = try #require(try await gateway.store.outboxEntries(status: nil, limit: 100).first { $0.id == ghost.id })
        #expect(bounced.status == .bounced)
        #expect(bounced.lastError?.hasPrefix("bounced: 5.") == true, "\(bounced.lastError ?? "")")
        let inbound = try #require(try await gateway.store.inboundMessages(limit: 1).first)
        #expect(inbound.outcome == .bounced(outboxID: ghost.id) && inbound.requestID == request.id, "\(inbound.outcome) \(inbound.evidence)")
        // Never answered; the other recipients' emails are untouched.
        #expect(try await gateway.store.outboxEntries(status: nil, limit: 100).allSatisfy { ![.replyConfirmation, .replyRefusal].contains($0.kind) })
        #expect(try await gateway.store.outboxEntries(status: .sent, limit: 100).count == entries.count - 1)
        #expect(try await gateway.folderCount("Rejected") == 1)
        let audit = try await gateway.store.auditLog(requestID: request.id)
        #expect(audit.contains { $0.action == .inbound && $0.outcome == .bounced && $0.detail["bounced_recipient"] == "ghost@bounce.example.test" })
    }

    @Test("LOOP-5: a delivery report to a bounce address with a forged tag marks nothing")
    func forgedBounceMarksNothing() async throws {
        let gateway = try await InboxHarness(gatewayUser: "approver15", bounces: true)
        defer { Task { await gateway.shutdown() } }
        _ = try await gateway.createRequest()
        let sent = try #require(try await gateway.store.outboxEntries(status: .sent, limit: 100).first)
        let report = [
            "From: MAILER-DAEMON@example.test", "To: approver15+bounce-\(sent.id)-000000000000@example.test", "Subject: Undelivered Mail",
            "Message-ID: <forged-\(UUID().uuidString)@evil.test>", "MIME-Version: 1.0",
            "Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"", "", "--b", "Content-Type: text/plain", "",
            "bounced", "--b", "Content-Type: message/delivery-status", "", "Reporting-MTA: dns; evil.test", "",
            "Final-Recipient: rfc822; \(sent.recipient)", "Action: failed", "Status: 5.1.1", "--b--", "",
        ].joined(separator: "\r\n")
        try await gateway.send(raw: report, envelopeFrom: "", to: "approver15+bounce-\(sent.id)-000000000000@example.test")
        #expect(try await gateway.process() == 1)
        #expect(try await gateway.store.outboxEntries(status: nil, limit: 100).first { $0.id == sent.id }?.status == .sent)
        #expect(try await gateway.store.inboundMessages(limit: 1).first?.outcome == .ignored)
    }

}

/// A TCP relay (socat) from a local port to the lab's IMAP port, stopped and started by tests.
struct Relay {
    let port: Int
    let process: Process

    init(port: Int, target: Int) throws {
        self.port = port
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/socat")
        process.arguments = ["TCP-LISTEN:\(port),bind=127.0.0.1,reuseaddr,fork", "TCP:127.0.0.1:\(target)"]
        try process.run()
        Thread.sleep(forTimeInterval: 0.3)
    }

    /// Stops listening and drops the connections it relays (socat forks one child per connection).
    /// SIGKILL, because processes started from a test inherit a signal mask that blocks SIGTERM.
    mutating func stop() {
        let kill = Process()
        kill.executableURL = URL(fileURLWithPath: "/usr/bin/pkill")
        kill.arguments = ["-KILL", "-f", "TCP-LISTEN:\(port),"]
        try? kill.run()
        kill.waitUntilExit()
        process.waitUntilExit()
    }

}

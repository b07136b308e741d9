import ApprovalTokens
import Foundation
import GatewayApp
import GatewayCore
import GatewayTestSupport
import GatewayMail
import MailMessage
import MailTransport
import Testing

/// Decisions by email reply, end to end against the real lab: replies sent over SMTP as a mail
/// client would, delivered by Postfix through Dovecot, picked up over IMAP.
@Suite(.serialized) struct InboxProcessorTests {
    @Test("A reply 'Approve - on call this week' approves: the requester, the reviewer and the other approvers are told")
    func approveByReply() async throws {
        let gateway = try await InboxHarness(gatewayUser: "approver21")
        defer { Task { await gateway.shutdown() } }
        let request = try await gateway.createRequest()
        let notification = try await gateway.notification(for: "approver1@example.test", request: request)
        try await gateway.reply(to: notification, from: "Ann Approver <approver1@example.test>", body: "Approve - on call this week")
        #expect(try await gateway.process() == 1)

        let decided = try #require(try await gateway.store.request(id: request.id))
        #expect(decided.state == .approved)
        #expect(decided.decision?.reviewer == "approver1@example.test")
        #expect(decided.decision?.channel == .reply)
        #expect(decided.decision?.comment == "on call this week")
        while try await gateway.worker.drainOnce() > 0 {}
        let outbox = try await gateway.store.outboxEntries(status: .sent, limit: 100)
        #expect(outbox.filter { $0.kind == .replyConfirmation }.map(\.recipient) == ["approver1@example.test"])
        #expect(outbox.filter { $0.kind == .decided }.map(\.recipient).sorted() == ["admin@example.test", "approver2@example.test", "requester1@example.test", "requester3@example.test"])
        let toApprover2 = try await MailLab.waitForMessages(for: "approver2@example.test", containing: "[approved]", count: 1, marker: gateway.marker)
        #expect(toApprover2.first?.contains("approved by Ann Approver") == true)
        let confirmation = try await MailLab.waitForMessages(for: "approver1@example.test", containing: "Done: you approved", count: 1, marker: gateway.marker)
        #expect(confirmation.count == 1)
        #expect(try await MailLab.waitForMessages(for: "requester1@example.test", containing: "Your request for prod-db was approved", count: 1, marker: gateway.marker).count == 1)
        // IMAP-3: moved to Processed after the commit.
        #expect(try await gateway.folderCount("Processed") == 1)
        #expect(try await gateway.mailbox.select().messages == 0)
    }

    @Test("A reply 'approve 1h' grants 1 hour of the 4 asked, and the requester is told it is shorter")
    func approveForLessByReply() async throws {
        let gateway = try await InboxHarness(gatewayUser: "approver50")
        defer { Task { await gateway.shutdown() } }
        let request = try await gateway.createRequest()
        let notification = try await gateway.notification(for: "approver1@example.test", request: request)
        try await gateway.reply(to: notification, from: "Ann Approver <approver1@example.test>", body: "approve 1h - just the migration")
        #expect(try await gateway.process() == 1)
        let decided = try #require(try await gateway.store.request(id: request.id))
        #expect(decided.state == .approved && decided.decision?.comment == "just the migration")
        let grant = try #require(try await gateway.store.read { try $0.grant(requestID: request.id) })
        #expect(grant.endsAt.timeIntervalSince(grant.startsAt) == 3600)
        while try await gateway.worker.drainOnce() > 0 {}
        let told = try await MailLab.waitForMessages(for: "requester1@example.test", containing: "less than the 4 hours you asked for", count: 1, marker: gateway.marker)
        #expect(told.first?.contains("granted 1 hour") == true)
    }

    struct RefusalCase: Sendable, CustomTestStringConvertible {
        var name: String
        var testDescription: String { name }
    }

    @Test("REPLY-2: a reply From someone else than the token's reviewer changes nothing and is not answered")
    func fromSomeoneElse() async throws {
        let gateway = try await InboxHarness(gatewayUser: "approver22")
        defer { Task { await gateway.shutdown() } }
        let request = try await gateway.createRequest()
        let notification = try await gateway.notification(for: "approver1@example.test", request: request)
        try await gateway.reply(to: notification, from: "Abe Approver <approver2@example.test>", body: "Approve")
        #expect(try await gateway.process() == 1)
        #expect(try await gateway.store.request(id: request.id)?.state == .pending)
        let inbound = try #require(try await gateway.store.inboundMessages(limit: 1).first)
        #expect(inbound.outcome == .rejected(.senderMismatch))
        #expect(try await gateway.store.outboxEntries(status: nil, limit: 100).allSatisfy { ![.replyConfirmation, .replyRefusal].contains($0.kind) })
        #expect(try await gateway.folderCount("Rejected") == 1)
    }

    @Test("AUTHZ-1: the requester, even with approver rights and a valid reply key, cannot approve by reply")
    func requesterCannotSelfApprove() async throws {
        let gateway = try await InboxHarness(gatewayUser: "approver23")
        defer { Task { await gateway.shutdown() } }
        let request = try await gateway.createRequest("requester3@example.test")
        // requester3 is in db-approvers but was not asked; mint the key the gateway would give them.
        let requester3 = try #require(try await gateway.store.userID(email: "requester3@example.test"))
        let key = try ReplyKey(requestID: request.id, reviewerID: requester3, expiresAt: request.expiresAt).encoded(with: gateway.fixture.keyRing)
        let notification = try await gateway.notification(for: "approver1@example.test", request: request)
        try await gateway.reply(to: notification, from: "requester3@example.test", body: "approve", replyTo: "approver23+\(key)@example.test")
        #expect(try await gateway.process() == 1)
        #expect(try await gateway.store.request(id: request.id)?.state == .pending)
        #expect(try await gateway.store.inboundMessages(limit: 1).first?.outcome.reason == "self_decision")
        let answers = try await gateway.store.outboxEntries(status: nil, limit: 100).filter { $0.kind == .replyRefusal }
        #expect(answers.map(\.recipient) == ["requester3@example.test"])
        #expect(answers.first?.context["refusal_code"] == "self_decision")
        #expect(try await gateway.renderedText(try #require(answers.first)).contains("you cannot decide your own request"))
    }

    @Test("AUTHZ-2: a reviewer removed from the group after the email was sent cannot approve by reply")
    func removedReviewer() async throws {
        let gateway = try await InboxHarness(gatewayUser: "approver24")
        defer { Task { await gateway.shutdown() } }
        let request = try await gateway.createRequest()
        let notification = try await gateway.notification(for: "approver1@example.test", request: request)
        var directory = GatewayFixture.directory
        directory.groups[0].members.remove("approver1@example.test")
        _ = try await gateway.fixture.gateway.syncDirectory(directory, now: gateway.clock.now)
        try await gateway.reply(to: notification, from: "approver1@example.test", body: "approve")
        #expect(try await gateway.process() == 1)
        #expect(try await gateway.store.request(id: request.id)?.state == .pending)
        #expect(try await gateway.store.inboundMessages(limit: 1).first?.outcome.reason == "not_allowed")
    }

    @Test("A token from another request decides only that request, never the one the reply is about")
    func tokenFromAnotherRequest() async throws {
        let gateway = try await InboxHarness(gatewayUser: "approver25")
        defer { Task { await gateway.shutdown() } }
        let first = try await gateway.createRequest("requester1@example.test")
        let second = try await gateway.createRequest("requester2@example.test")
        _ = try await gateway.fixture.gateway.decide(DecisionAttempt(requestID: first.id, reviewer: "admin@example.test", action: .deny, channel: .cli), now: gateway.clock.now)
        let firstMail = try await gateway.notification(for: "approver1@example.test", request: first)
        let secondMail = try await gateway.notification(for: "approver1@example.test", request: second)
        let firstReplyTo = try #require(try MailMessage(parsing: firstMail).headers["Reply-To"].map { try AddressParser.parseSingleMailbox($0).address })
        // The reply is about the second request (thread, subject) but carries the first one's address.
        try await gateway.reply(to: secondMail, from: "approver1@example.test", body: "approve", replyTo: firstReplyTo)
        #expect(try await gateway.process() == 1)
        #expect(try await gateway.store.request(id: second.id)?.state == .pending)
        #expect(try await gateway.store.request(id: first.id)?.state == .denied)
        #expect(try await gateway.store.inboundMessages(limit: 1).first?.outcome.reason == "not_pending")
    }

    @Test("REPLY-3: forged or failing Authentication-Results change nothing", arguments: [
        ("foreign authserv-id saying pass", "evil@evil.test", ["Authentication-Results: mx.other.example; dmarc=pass header.from=example.test; dkim=pass header.d=example.test"], false),
        ("ours placed below a failing one", "evil@evil.test", ["Authentication-Results: mail.example.test; dmarc=pass header.from=example.test"], false),
        ("dmarc=fail", "evil@evil.test", [], false),
        ("no authentication at all", "bounce@unknown.example", [], false),
        // The receiving server stamps nothing: the forged field of ours is the only one, with a
        // forged SMTP stamp below it; the server's real Received: is above it.
        ("the receiving server adds none: a forged field of ours", "evil@evil.test", [
            "Authentication-Results: mail.example.test; spf=pass smtp.mailfrom=approver1@example.test; dkim=pass header.d=example.test; dmarc=pass header.from=example.test",
            "Received: from example.test (unknown [127.0.0.1]) by mail.example.test (Postfix) with ESMTP id FORGED; Sun, 29 Nov 2026 13:00:00 +0000",
        ], true),
    ])
    func forgedAuthentication(name: String, envelopeFrom: String, headers: [String], unstamped: Bool) async throws {
        let gateway = try await InboxHarness(gatewayUser: "approver26")
        defer { Task { await gateway.shutdown() } }
        let request = try await gateway.createRequest()
        let notification = try await gateway.notification(for: "approver1@example.test", request: request)
        try await gateway.reply(to: notification, from: "approver1@example.test", envelopeFrom: envelopeFrom, body: "approve", extraHeaders: headers, unstamped: unstamped)
        #expect(try await gateway.process() == 1)
        #expect(try await gateway.store.request(id: request.id)?.state == .pending, "\(name)")
        let inbound = try #require(try await gateway.store.inboundMessages(limit: 1).first)
        #expect(inbound.outcome == .rejected(.notAuthenticated), "\(name): \(inbound.evidence)")
        #expect(try await gateway.store.outboxEntries(status: nil, limit: 100).allSatisfy { ![.replyConfirmation, .replyRefusal].contains($0.kind) })
    }

    @Test("REPLY-6: ambiguous and quoted-only commands are not understood: no change, one explanation", arguments: [
        ("Approval needed? Let me check first.\n\nAnn", "is not \"approve\" or \"deny\""),
        ("", "is not \"approve\" or \"deny\""),
        ("Hi,\napprove", "is not \"approve\" or \"deny\""),
        ("Approve? Let me check first", "reads as a question"),
        ("approve or deny", "names both approve and deny"),
    ])
    func notUnderstood(body: String, explanation: String) async throws {
        let gateway = try await InboxHarness(gatewayUser: "approver27")
        defer { Task { await gateway.shutdown() } }
        let request = try await gateway.createRequest()
        let notification = try await gateway.notification(for: "approver1@example.test", request: request)
        try await gateway.reply(to: notification, from: "approver1@example.test", body: body)
        // A second unclear reply gets no second explanation (LOOP-3).
        try await gateway.reply(to: notification, from: "approver1@example.test", body: body)
        #expect(try await gateway.process(expecting: 2) == 2)
        #expect(try await gateway.store.request(id: request.id)?.state == .pending)
        let answers = try await gateway.store.outboxEntries(status: nil, limit: 100).filter { $0.kind == .replyRefusal }
        #expect(answers.count == 1)
        #expect(answers.first?.context["show_grammar"] == "true")
        #expect(try await gateway.renderedText(try #require(answers.first)).contains(explanation))
    }

    @Test("AUTHZ-5: a reply after the deadline changes nothing and is told the request expired")
    func expiredRequest() async throws {
        let gateway = try await InboxHarness(gatewayUser: "approver28")
        defer { Task { await gateway.shutdown() } }
        let request = try await gateway.createRequest()
        let notification = try await gateway.notification(for: "approver1@example.test", request: request)
        gateway.clock.advance(by: 25 * 3600)
        try await gateway.reply(to: notification, from: "approver1@example.test", body: "Approve")
        #expect(try await gateway.process() == 1)
        #expect(try await gateway.store.request(id: request.id)?.decision == nil)
        let answer = try #require(try await gateway.store.outboxEntries(status: nil, limit: 100).first { $0.kind == .replyRefusal })
        #expect(answer.context["refusal_code"] == "past_deadline")
        #expect(try await gateway.renderedText(answer).contains("expired"))
    }

    @Test("AUTHZ-3: a second decision by reply after the first is refused and told who decided")
    func secondDecision() async throws {
        let gateway = try await InboxHarness(gatewayUser: "approver29")
        defer { Task { await gateway.shutdown() } }
        let request = try await gateway.createRequest()
        let first = try await gateway.notification(for: "approver1@example.test", request: request)
        let second = try await gateway.notification(for: "approver2@example.test", request: request)
        try await gateway.reply(to: first, from: "approver1@example.test", body: "deny: not during the freeze")
        #expect(try await gateway.process() == 1)
        try await gateway.reply(to: second, from: "approver2@example.test", body: "APPROVED!")
        #expect(try await gateway.process() == 1)
        let stored = try #require(try await gateway.store.request(id: request.id))
        #expect(stored.state == .denied)
        #expect(stored.decision?.comment == "not during the freeze")
        let refusal = try #require(try await gateway.store.outboxEntries(status: nil, limit: 100).first { $0.kind == .replyRefusal })
        #expect(refusal.recipient == "approver2@example.test")
        #expect(refusal.context["refusal_code"] == "not_pending")
        #expect(try await gateway.renderedText(refusal).contains("it was already denied by approver1@example.test."))
    }

    @Test("REPLY-4: without a trusted authserv-id, replies are refused (fail closed) and not answered")
    func noTrustedAuthservID() async throws {
        let gateway = try await InboxHarness(gatewayUser: "approver37", trustedAuthservID: nil, requireAuthentication: true)
        defer { Task { await gateway.shutdown() } }
        let request = try await gateway.createRequest()
        let notification = try await gateway.notification(for: "approver1@example.test", request: request)
        try await gateway.reply(to: notification, from: "approver1@example.test", body: "approve")
        #expect(try await gateway.process() == 1)
        #expect(try await gateway.store.request(id: request.id)?.state == .pending)
        #expect(try await gateway.store.inboundMessages(limit: 1).first?.outcome == .rejected(.authenticationNotConfigured))
        #expect(try await gateway.store.outboxEntries(status: nil, limit: 100).allSatisfy { ![.replyConfirmation, .replyRefusal].contains($0.kind) })
    }

    @Test("A client that drops the reply address still decides through In-Reply-To / References")
    func threadFallback() async throws {
        let gateway = try await InboxHarness(gatewayUser: "approver38")
        defer { Task { await gateway.shutdown() } }
        let request = try await gateway.createRequest()
        let notification = try await gateway.notification(for: "approver1@example.test", request: request)
        // Replied to the gateway's plain address (From), not the personal reply address.
        try await gateway.reply(to: notification, from: "approver1@example.test", body: "deny: not today", replyTo: "approver38@example.test")
        #expect(try await gateway.process() == 1)
        let stored = try #require(try await gateway.store.request(id: request.id))
        #expect(stored.state == .denied && stored.decision?.reviewer == "approver1@example.test" && stored.decision?.channel == .reply)
        #expect(try await gateway.store.inboundMessages(limit: 1).first?.evidence["token_source"] == "thread")
        // Without the thread either, nothing is known: no key.
        let other = try await gateway.createRequest("requester2@example.test")
        let second = try await gateway.notification(for: "approver1@example.test", request: other)
        try await gateway.reply(to: second, from: "approver1@example.test", body: "approve", replyTo: "approver38@example.test", threadHeaders: false)
        #expect(try await gateway.process() == 1)
        #expect(try await gateway.store.request(id: other.id)?.state == .pending)
        #expect(try await gateway.store.inboundMessages(limit: 1).first?.outcome == .rejected(.noToken))
    }

    @Test("A reply carrying two different valid keys is ambiguous; a tampered key does not verify")
    func twoKeysAndATamperedKey() async throws {
        let gateway = try await InboxHarness(gatewayUser: "approver49")
        defer { Task { await gateway.shutdown() } }
        let first = try await gateway.createRequest()
        let second = try await gateway.createRequest("requester2@example.test")
        let one = try await gateway.notification(for: "approver1@example.test", request: first)
        let two = try await gateway.notification(for: "approver1@example.test", request: second)
        func replyAddress(_ notification: String) throws -> String {
            try #require(try MailMessage(parsing: notification).headers["Reply-To"].map { try AddressParser.parseSingleMailbox($0).address })
        }
        let keyOne = try replyAddress(one), keyTwo = try replyAddress(two)
        try await gateway.reply(to: one, from: "approver1@example.test", body: "approve", extraHeaders: ["Cc: \(keyTwo)"], threadHeaders: false)
        #expect(try await gateway.process() == 1)
        #expect(try await gateway.store.inboundMessages(limit: 1).first?.outcome == .rejected(.ambiguousToken))

        var tampered = Array(keyOne)
        let at = keyOne.distance(from: keyOne.startIndex, to: keyOne.firstIndex(of: "@")!)
        tampered[at - 2] = tampered[at - 2] == "a" ? "b" : "a"
        try await gateway.reply(to: one, from: "approver1@example.test", body: "approve", replyTo: String(tampered), threadHeaders: false)
        #expect(try await gateway.process() == 1)
        #expect(try await gateway.store.inboundMessages(limit: 1).first?.outcome == .rejected(.invalidToken))
        #expect(try await gateway.store.request(id: first.id)?.state == .pending)
        #expect(try await gateway.store.request(id: second.id)?.state == .pending)
    }
}

import Foundation
import GatewayApp
import GatewayCore
import GatewayMail
import GatewayTestSupport
import Logging
import MailMessage
import Testing

/// Two-person approval and escalation by email, end to end against the real lab: replies sent over
/// SMTP as a mail client would, delivered by Postfix through Dovecot, read over IMAP.
@Suite(.serialized) struct QuorumByReplyTests {
    /// The decoded plain-text body and the headers of a delivered message.
    func read(_ raw: String) throws -> (text: String, headers: HeaderFields) {
        let message = try MailMessage(parsing: raw)
        return (message.allParts.first { $0.contentType.mimeType == "text/plain" }?.text() ?? "", message.headers)
    }

    @Test("A two-approver request is decided by two replies: the first is counted and told to the thread, the second ('approve 1h') decides it")
    func twoReplies() async throws {
        let gateway = try await InboxHarness(gatewayUser: "approver51")
        defer { Task { await gateway.shutdown() } }
        let request = try await gateway.createRequest(resource: "two-key-db")
        let toAnn = try await gateway.notification(for: "approver1@example.test", request: request)
        try await gateway.reply(to: toAnn, from: "Ann Approver <approver1@example.test>", body: "approve - checked the change ticket")
        #expect(try await gateway.process() == 1)
        let pending = try #require(try await gateway.store.request(id: request.id))
        #expect(pending.state == .pending && pending.approvalCount == 1)
        #expect(try await gateway.store.inboundMessages(limit: 1).first?.outcome == .approvalCounted)
        #expect(try await gateway.folderCount("Processed") == 1)
        while try await gateway.worker.drainOnce() > 0 {}

        // Everyone in the thread hears it: the other reviewers, with their own reply address, and the requester.
        let toAbe = try #require(try await MailLab.waitForMessages(for: "approver2@example.test", containing: "[approval 1 of 2]", count: 1, marker: gateway.marker).first)
        let abe = try read(toAbe)
        #expect(abe.text.contains("approved by Ann Approver <approver1@example.test>: 1 of 2 approvals; 1 more approval needed"))
        let root = NotificationRenderer.threadRoot(requestID: request.id, installation: gateway.fixture.installation, domain: "example.test")
        #expect(abe.headers["In-Reply-To"] == "<\(root)>" && abe.headers["Reply-To"] != nil)
        let toRita = try #require(try await MailLab.waitForMessages(for: "requester1@example.test", containing: "[approval 1 of 2]", count: 1, marker: gateway.marker).first)
        let rita = try read(toRita)
        #expect(rita.text.contains("It needs 1 more approval before you get access") && rita.headers["Reply-To"] == nil)
        let confirmation = try #require(try await MailLab.waitForMessages(for: "approver1@example.test", containing: "[approval 1 of 2]", count: 1, marker: gateway.marker).first)
        #expect(try read(confirmation).text.contains("Recorded: your approval of Rita Requester's request for two-key-db counts (1 of 2)"))

        // Abe answers the thread's latest email: the second approval decides, for the shorter time.
        try await gateway.reply(to: toAbe, from: "Abe Approver <approver2@example.test>", body: "approve 1h")
        #expect(try await gateway.process() == 1)
        let decided = try #require(try await gateway.store.request(id: request.id))
        #expect(decided.state == .approved && decided.decision?.reviewer == "approver2@example.test" && decided.decision?.channel == .reply)
        let grant = try #require(try await gateway.store.read { try $0.grant(requestID: request.id) })
        #expect(grant.endsAt.timeIntervalSince(grant.startsAt) == 3600)
        while try await gateway.worker.drainOnce() > 0 {}
        let outcome = try read(try #require(try await MailLab.waitForMessages(for: "requester1@example.test", containing: "[approved]", count: 1, marker: gateway.marker).first))
        #expect(outcome.text.contains("was approved by Ann Approver and Abe Approver"))
        #expect(outcome.text.contains("granted 1 hour, less than the 4 hours you asked for"))
    }

    @Test("A second 'approve' from the same reviewer gets a clear 'you already approved' answer; a deny after one approval denies")
    func repeatThenDeny() async throws {
        let gateway = try await InboxHarness(gatewayUser: "approver52")
        defer { Task { await gateway.shutdown() } }
        let request = try await gateway.createRequest(resource: "two-key-db")
        let toAnn = try await gateway.notification(for: "approver1@example.test", request: request)
        try await gateway.reply(to: toAnn, from: "Ann Approver <approver1@example.test>", body: "Approve")
        #expect(try await gateway.process() == 1)
        try await gateway.reply(to: toAnn, from: "Ann Approver <approver1@example.test>", body: "approve\n\n(sent again from my phone)")
        #expect(try await gateway.process() == 1)
        #expect(try await gateway.store.inboundMessages(limit: 1).first?.outcome == .refused(.alreadyApproved))
        #expect(try await gateway.store.request(id: request.id)?.approvalCount == 1)
        while try await gateway.worker.drainOnce() > 0 {}
        let answer = try #require(try await MailLab.waitForMessages(for: "approver1@example.test", containing: "[no change]", count: 1, marker: gateway.marker).first)
        #expect(try read(answer).text.contains("you already approved this request (1 of 2 approvals so far)"))

        let toAbe = try await gateway.notification(for: "approver2@example.test", request: request)
        try await gateway.reply(to: toAbe, from: "Abe Approver <approver2@example.test>", body: "deny - not during the freeze")
        #expect(try await gateway.process() == 1)
        let denied = try #require(try await gateway.store.request(id: request.id))
        #expect(denied.state == .denied && denied.decision?.reviewer == "approver2@example.test")
        #expect(try await gateway.store.read { try $0.grant(requestID: request.id) } == nil)
        while try await gateway.worker.drainOnce() > 0 {}
        let denial = try #require(try await MailLab.waitForMessages(for: "requester1@example.test", containing: "[denied]", count: 1, marker: gateway.marker).first)
        #expect(try read(denial).text.contains("was denied by Abe Approver"))
    }

    @Test("At escalate_after the sweep sends the request to the escalation group, who decides it by reply; the first reviewers are told")
    func escalationAtTheDeadline() async throws {
        let gateway = try await InboxHarness(gatewayUser: "approver53")
        defer { Task { await gateway.shutdown() } }
        let request = try await gateway.createRequest(resource: "paged-db")
        let sweeper = Sweeper(service: gateway.fixture.gateway.service, policy: Sweeper.Policy(interval: .seconds(60), reminderLead: nil), logger: Logger(label: "test.sweep"))
        gateway.clock.advance(by: 7199)
        try await sweeper.sweepOnce()
        #expect(try await gateway.store.request(id: request.id)?.escalatedAt == nil)
        // The first sweep after the deadline (stored instants keep milliseconds: a whole second later).
        gateway.clock.advance(by: 2)
        try await sweeper.sweepOnce()
        try await sweeper.sweepOnce()
        #expect(try await gateway.store.request(id: request.id)?.escalatedAt != nil)
        while try await gateway.worker.drainOnce() > 0 {}

        let toAmy = try await MailLab.waitForMessages(for: "approver3@example.test", containing: "[escalated]", count: 1, marker: gateway.marker)
        #expect(toAmy.count == 1, "escalated once, whatever the number of sweeps")
        let escalation = try #require(toAmy.first)
        let amy = try read(escalation)
        #expect(amy.text.contains("has waited 2 hours without a decision") && amy.headers["Reply-To"] != nil)
        #expect(amy.text.contains("as a member of the escalation group web-approvers"))
        let notice = try read(try #require(try await MailLab.waitForMessages(for: "approver1@example.test", containing: "[escalated]", count: 1, marker: gateway.marker).first))
        #expect(notice.text.contains("also sent to the escalation group web-approvers") && notice.text.contains("You may still decide it"))

        try await gateway.reply(to: escalation, from: "Amy Approver <approver3@example.test>", body: "approve - covering for the DBAs")
        #expect(try await gateway.process() == 1)
        let decided = try #require(try await gateway.store.request(id: request.id))
        #expect(decided.state == .approved && decided.decision?.reviewer == "approver3@example.test")
        let audit = try #require(try await gateway.store.auditLog(requestID: request.id).last { $0.action == .decide })
        #expect(audit.reason == "escalation:web-approvers")
    }
}

import Foundation
import GatewayApp
import GatewayCore
import GatewayMail
import GatewayTestSupport
import MailTransport
import Testing

/// A backlog is fetched, decided and moved in groups, with every guarantee of one message at a time.
@Suite(.serialized) struct InboxBatchTests {
    @Test("Groups hold at most batchSize messages and batchBytes of downloads; an oversize message downloads nothing; one large message is a group of its own")
    func grouping() {
        let policy = InboxProcessor.Policy(processedFolder: "P", rejectedFolder: "R", pollInterval: .seconds(1), maxMessageBytes: 1_000, batchSize: 3, batchBytes: 1_500)
        let sizes = [100, 100, 100, 100, 900, 900, 5_000, 100, 1_000]
        let summaries = sizes.enumerated().map { MessageSummary(uid: UInt32($0.offset + 1), size: $0.element, flags: []) }
        let groups = InboxProcessor.groups(summaries, policy: policy).map { $0.map(\.uid) }
        #expect(groups == [[1, 2, 3], [4, 5], [6, 7, 8], [9]])
        #expect(InboxProcessor.groups([], policy: policy).isEmpty)
    }

    @Test("IMAP-1, IMAP-3, IMAP-4: a backlog in groups of 3 decides each reply once (a copy with the same Message-ID in the same group included), moves each to its folder and stores the cursor")
    func backlogInGroups() async throws {
        let gateway = try await InboxHarness(gatewayUser: "approver54", batchSize: 3)
        defer { Task { await gateway.shutdown() } }
        var requests: [AccessRequest] = []
        for requester in ["requester1@example.test", "requester2@example.test"] {
            for resource in ["prod-db", "staging-web"] {
                requests.append(try await gateway.createRequest(requester, resource: resource))
            }
        }
        var sent = 0
        var firstNotification = ""
        for request in requests {
            let reviewer = request.resource == "prod-db" ? "approver1@example.test" : "approver3@example.test"
            let notification = try await gateway.notification(for: reviewer, request: request)
            let messageID = try await gateway.reply(to: notification, from: reviewer, body: "approve")
            sent += 1
            if firstNotification.isEmpty {
                firstNotification = notification
                // The same reply delivered twice (a client's retry): the same Message-ID, right behind it.
                try await gateway.reply(to: notification, from: reviewer, body: "approve", messageID: messageID)
                sent += 1
            }
        }
        // One message over imap.max_message_bytes (200,000 in the harness): moved aside unread.
        try await gateway.reply(to: firstNotification, from: "approver1@example.test", body: "approve\n\n" + String(repeating: "padding line\n", count: 20_000))
        sent += 1
        // Wait for the whole backlog before the first pass, so that it is handled in groups.
        for _ in 0..<150 where try await gateway.mailbox.select().messages < sent { try await Task.sleep(for: .milliseconds(100)) }
        #expect(try await gateway.mailbox.select().messages == sent)
        #expect(try await gateway.processor.processNewMessages() == sent)

        for request in requests {
            #expect(try await gateway.store.request(id: request.id)?.state == .approved, "request \(request.id)")
        }
        let decisions = try await gateway.store.read { tx in try tx.auditLog(requestID: nil).filter { $0.action == .decide && $0.outcome == .accepted } }
        #expect(decisions.count == requests.count)
        #expect(try await gateway.folderCount("Processed") == sent - 1)
        #expect(try await gateway.folderCount("Rejected") == 1)
        #expect(try await gateway.mailbox.select().messages == 0)
        let status = try await gateway.mailbox.status("INBOX")
        let cursor = try #require(try await gateway.fixture.gateway.service.mailboxCursor("INBOX"))
        let next = try #require(status.uidNext)
        #expect(cursor.uidValidity == status.uidValidity && cursor.lastUID == next - 1)
        // Nothing is left for a second pass.
        #expect(try await gateway.processor.processNewMessages() == 0)
    }
}

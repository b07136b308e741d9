import Foundation
import GatewayTestSupport
import Testing
@testable import MailTransport

/// SMTP against the real lab (Postfix on 127.0.0.1). Needs `scripts/mail-lab start`.
@Suite("SMTP sender (mail lab)")
struct SMTPSenderTests {
    @Test("200 messages over one connection all arrive, bodies byte-identical")
    func twoHundredOverOneConnection() async throws {
        try MailLab.require()
        let user = "approver40"
        try MailLab.resetUser(user)
        let sender = try MailLab.relaySender()
        var sent: [String: [UInt8]] = [:]  // Message-ID -> body bytes
        for i in 0..<200 {
            // Lines that need dot-stuffing, long lines, UTF-8, trailing spaces and an empty line.
            let body = ".\r\n..starts with dots \(i)\r\n" + String(repeating: "x", count: 700 + i) + "\r\n"
                + "UTF-8: Grüße, 日本語 \r\n\r\nline after an empty line.\r\n.\r\nend \(i)\r\n"
            let (message, messageID) = MailLab.message(from: MailLab.address("gateway"), to: MailLab.address(user),
                                                       subject: "bulk \(i)", body: body, id: "bulk-\(i)-\(UUID().uuidString)")
            let delivery = try await sender.send(message)
            #expect(delivery.replyCode == 250)
            #expect(delivery.reusedConnection == (i > 0))
            sent[messageID] = Array(body.utf8)
        }
        #expect(await sender.connectionsOpened == 1)
        #expect(await sender.messagesSent == 200)
        await sender.close()

        let mailbox = IMAPMailbox(configuration: try MailLab.imapConfiguration(user))
        try await mailbox.select()
        let deadline = ContinuousClock.now + .seconds(30)
        var uids: [UInt32] = []
        while ContinuousClock.now < deadline {
            uids = try await mailbox.searchUIDs(.all)
            if uids.count >= 200 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(uids.count == 200)
        var matched = 0
        for uid in uids {
            guard let raw = try await mailbox.fetchRaw(uid: uid) else { Issue.record("UID \(uid) vanished"); continue }
            let (headers, body) = split(raw)
            guard let id = header("Message-ID", in: headers), let expected = sent[id] else {
                Issue.record("UID \(uid) has an unknown Message-ID"); continue
            }
            // (Lines stay under RFC 5322's 998 characters: servers may fold longer ones.)
            let identical = body == expected
            #expect(identical, "body of \(id) differs: \(body.count) bytes received, \(expected.count) sent")
            matched += identical ? 1 : 0
        }
        #expect(matched == 200)
        await mailbox.close()
    }

    @Test("STARTTLS (required) with AUTH on the submission port, trusting the lab CA")
    func startTLSWithAuth() async throws {
        try MailLab.require()
        let sender = SMTPSender(configuration: try SMTPConfiguration(
            url: MailLab.submission, username: MailLab.address("approver39"), password: MailLab.password,
            startTLS: .required, caFile: MailLab.caFile))
        let (message, _) = MailLab.message(from: MailLab.address("approver39"), to: MailLab.address("approver39"), subject: "starttls", body: "x\r\n")
        #expect(try await sender.send(message).replyCode == 250)
        #expect(try await sender.send(message).reusedConnection)
        await sender.close()
    }

    @Test("SMTPS (implicit TLS) with AUTH, trusting the lab CA")
    func implicitTLS() async throws {
        try MailLab.require()
        let sender = SMTPSender(configuration: try SMTPConfiguration(
            url: MailLab.smtps, username: MailLab.address("approver39"), password: MailLab.password, caFile: MailLab.caFile))
        let (message, _) = MailLab.message(from: MailLab.address("approver39"), to: MailLab.address("approver39"), subject: "smtps", body: "x\r\n")
        #expect(try await sender.send(message).replyCode == 250)
        await sender.close()
    }

    @Test("without the lab CA, STARTTLS and SMTPS fail cleanly with a certificate error", arguments: [MailLab.submission, MailLab.smtps])
    func untrustedCertificate(url: String) async throws {
        try MailLab.require()
        let sender = SMTPSender(configuration: try SMTPConfiguration(
            url: url, username: MailLab.address("approver39"), password: MailLab.password, caFile: nil))
        let (message, _) = MailLab.message(from: MailLab.address("approver39"), to: MailLab.address("approver39"), subject: "x", body: "x\r\n")
        let error = try await #require(throws: MailTransportError.self) { try await sender.send(message) }
        #expect(error.kind == .certificateVerification)
        #expect(error.isConfigurationProblem)
        #expect(error.message.contains(url.replacingOccurrences(of: "1587", with: "1587")))
        #expect(error.message.contains("certificate"))
    }

    @Test("turning verification off is explicit and then connects without the CA")
    func insecureSkipVerify() async throws {
        try MailLab.require()
        let sender = SMTPSender(configuration: try SMTPConfiguration(
            url: MailLab.smtps, username: MailLab.address("approver39"), password: MailLab.password, verifyCertificates: false))
        let (message, _) = MailLab.message(from: MailLab.address("approver39"), to: MailLab.address("approver39"), subject: "x", body: "x\r\n")
        #expect(try await sender.send(message).replyCode == 250)
        await sender.close()
    }

    @Test("a wrong password is a permanent authentication error with the server's 535 reply")
    func wrongPassword() async throws {
        try MailLab.require()
        let sender = SMTPSender(configuration: try SMTPConfiguration(
            url: MailLab.submission, username: MailLab.address("approver39"), password: "wrong", caFile: MailLab.caFile))
        let (message, _) = MailLab.message(from: MailLab.address("approver39"), to: MailLab.address("approver39"), subject: "x", body: "x\r\n")
        let error = try await #require(throws: MailTransportError.self) { try await sender.send(message) }
        #expect(error.kind == .authentication)
        #expect(error.replyCode == 535)
        #expect(error.classification == .permanent)
        #expect(error.message.hasPrefix("SMTP login failed for approver39@example.test at smtp://127.0.0.1:1587: "))
        #expect(error.message.contains("authentication failed"))
        #expect(!error.message.contains("wrong"))
    }

    @Test("SMTP-3: a refused connection is a transient error naming the server")
    func refusedConnection() async throws {
        let port = MailLab.closedPort()
        let sender = SMTPSender(configuration: try SMTPConfiguration(url: "smtp://127.0.0.1:\(port)", startTLS: .off))
        let (message, _) = MailLab.message(from: "a@example.test", to: "b@example.test", subject: "x", body: "x\r\n")
        let error = try await #require(throws: MailTransportError.self) { try await sender.send(message) }
        #expect(error.kind == .connectionRefused)
        #expect(error.classification == .transient)
        #expect(error.message.contains("127.0.0.1:\(port)"))
    }

    @Test("SMTP-3: a 5xx rejection is permanent, carries the reply, and the sender keeps working")
    func permanentRejectionThenRecovery() async throws {
        try MailLab.require()
        let sender = try MailLab.relaySender()
        let (bad, _) = MailLab.message(from: MailLab.address("gateway"), to: "nobody-here@example.test", subject: "x", body: "x\r\n")
        let error = try await #require(throws: MailTransportError.self) { try await sender.send(bad) }
        #expect(error.kind == .serverRejected)
        #expect(error.replyCode == 550)
        #expect(error.classification == .permanent)
        #expect(error.serverText?.contains("nobody-here@example.test") == true, "\(error)")
        #expect(error.message.contains("550"))
        let (good, _) = MailLab.message(from: MailLab.address("gateway"), to: MailLab.address("approver39"), subject: "after 550", body: "x\r\n")
        #expect(try await sender.send(good).replyCode == 250)
        // Outbound mail is refused by the lab (relay to another domain): also permanent.
        let (outside, _) = MailLab.message(from: MailLab.address("gateway"), to: "someone@elsewhere.invalid", subject: "x", body: "x\r\n")
        let relay = try await #require(throws: MailTransportError.self) { try await sender.send(outside) }
        #expect(relay.classification == .permanent)
        await sender.close()
    }

    @Test("STARTTLS required and opportunistic both upgrade; without STARTTLS the submission port refuses")
    func startTLSPolicies() async throws {
        try MailLab.require()
        for policy in [StartTLSPolicy.required, .opportunistic] {
            let sender = SMTPSender(configuration: try SMTPConfiguration(url: MailLab.smtp, startTLS: policy, caFile: MailLab.caFile))
            let (message, _) = MailLab.message(from: MailLab.address("gateway"), to: MailLab.address("approver39"), subject: "policy", body: "x\r\n")
            #expect(try await sender.send(message).replyCode == 250)
            await sender.close()
        }
        // STARTTLS off against the submission port: the server refuses to go on without TLS.
        let plain = SMTPSender(configuration: try SMTPConfiguration(
            url: MailLab.submission, username: MailLab.address("approver39"), password: MailLab.password, startTLS: .off))
        let (message, _) = MailLab.message(from: MailLab.address("approver39"), to: MailLab.address("approver39"), subject: "x", body: "x\r\n")
        let error = try await #require(throws: MailTransportError.self) { try await plain.send(message) }
        #expect(error.message.contains("smtp://127.0.0.1:1587"))
    }

    @Test("envelope addresses with CR, LF or angle brackets are refused before anything is sent")
    func envelopeInjection() async throws {
        let sender = SMTPSender(configuration: try SMTPConfiguration(url: "smtp://127.0.0.1:9", startTLS: .off))
        for bad in ["a@b\r\nRCPT TO:<x@y>", "a@b>", "<a@b", "a b@c"] {
            let error = try await #require(throws: MailTransportError.self) {
                try await sender.send(OutgoingMessage(envelopeSender: "x@example.test", recipients: [bad], data: Array("x\r\n".utf8)))
            }
            #expect(error.kind == .configuration)
            #expect(error.classification == .permanent)
        }
        #expect(await sender.connectionsOpened == 0)
    }

    @Test("configuration refuses credentials in the URL and unknown schemes")
    func configurationValidation() {
        #expect(throws: MailTransportError.self) { try SMTPConfiguration(url: "smtp://user:pw@host:25") }
        #expect(throws: MailTransportError.self) { try SMTPConfiguration(url: "http://host") }
        #expect(throws: MailTransportError.self) { try IMAPConfiguration(url: "imap://host", username: "u", password: "p", idleRefresh: .seconds(30 * 60)) }
        #expect((try? SMTPConfiguration(url: "smtps://mail.example.com"))?.endpoint.port == 465)
        #expect((try? IMAPConfiguration(url: "imaps://mail.example.com/Gateway%20Inbox", username: "u", password: "p"))?.mailbox == "Gateway Inbox")
        let config = try? SMTPConfiguration(url: "smtp://h:587", username: "u", password: "hunter2")
        #expect(config.map { !$0.description.contains("hunter2") } == true)
    }

    private func split(_ raw: [UInt8]) -> (headers: String, body: [UInt8]) {
        let separator: [UInt8] = [13, 10, 13, 10]
        var i = 0
        while i + 4 <= raw.count {
            if Array(raw[i..<(i + 4)]) == separator {
                return (String(decoding: raw[0..<i], as: UTF8.self), Array(raw[(i + 4)...]))
            }
            i += 1
        }
        return (String(decoding: raw, as: UTF8.self), [])
    }

    private func header(_ name: String, in headers: String) -> String? {
        for line in headers.components(separatedBy: "\r\n") where line.lowercased().hasPrefix(name.lowercased() + ":") {
            return line.dropFirst(name.count + 1).trimmingCharacters(in: .whitespaces)
        }
        return nil
    }
}
